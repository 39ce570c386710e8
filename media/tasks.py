"""The one code path that turns a queued job into a published asset.

The Huey task, `flask media transcode` and the tests all call :func:`run_job`. It is
idempotent: only a job still "queued" can be claimed, and the asset becomes ready
only after media.transcode has renamed the complete output into place.

Two-phase publish (a source already H.264/AAC, at most 720p, with lower rungs to make):

1. phase 1 remuxes the source into version A (copied top rung, MP4, poster; no encode)
   and publishes it: the asset is ``ready`` and playable, the job stays ``running`` at
   :data:`FIRST_PHASE_SHARE` %;
2. phase 2 encodes the lower rungs into version B, which hard-links A's files under the
   same names and lists every rung, and publishes it: the job is ``done``. Lessons and
   boxes that ask from then on get B; A is still served for MEDIA_PREVIOUS_VERSION_GRACE
   (default 24 h) so a player that started on it keeps playing, then the sweep removes it.

Each publish is one conditional UPDATE on the claim, so each phase publishes at most once
per claim; a job re-run after phase 1 was published (worker killed, shutdown, retry after a
phase-2 failure) finds the asset ready with only the copied rung and resumes at phase 2,
so phase 1 is published once per job. A cancel or delete between or during the phases
removes the unpublished folder; the published one stays complete.
"""

from __future__ import annotations

import errno
import logging
import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from dangxiao.extensions import db
from media import jobs, storage
from media.errors import MediaError
from media.ladder import plan
from media.models import JobStatus, TranscodeJob
from media.probe import ProbeInfo, decode_check, probe
from media.transcode import DISK_FULL_REASON, TranscodeResult, first_phase, second_phase, transcode, two_phase

log = logging.getLogger(__name__)

TASK_NAME = "media.transcode"
#: Failures worth another attempt (counted; the job fails once attempts run out).
RETRYABLE = frozenset({"ffmpeg_killed"})
#: Share of the job's progress bar taken by phase 1 (a remux is a few percent of an encode).
FIRST_PHASE_SHARE = 10.0
SECOND_PHASE_FAILED = "已发布可播放的版本，但生成低清晰度版本失败：{reason}"

ProgressFn = Callable[[float, "float | None"], None]

_shutdown = threading.Event()


def request_shutdown() -> None:
    """Stop every running transcode of this process now and hand its job back (the worker's
    SIGINT/SIGTERM handler calls this); tasks delivered from now on go back to the queue."""
    _shutdown.set()


def shutting_down() -> bool:
    return _shutdown.is_set()


def reset_shutdown() -> None:
    _shutdown.clear()


def register_tasks(app: Flask) -> None:
    """Register the transcode task on this app's queue; it runs inside this app's context."""
    huey = app.extensions["huey"]

    @huey.task(name=TASK_NAME)
    def transcode_job(job_id: int) -> None:
        with app.app_context():
            if shutting_down():  # dequeued while the worker stops: leave it for the next worker
                jobs.enqueue(job_id)
                return
            run_job(job_id)

    app.extensions["media.transcode_task"] = transcode_job


def probe_facts(info: ProbeInfo) -> dict[str, Any]:
    return {
        "duration": info.duration,
        "width": info.width or None,
        "height": info.height or None,
        "has_audio": info.has_audio,
        "has_video": info.has_video,
    }


def output_facts(result: TranscodeResult, output_rel: str) -> dict[str, Any]:
    return {
        "output_dir": output_rel,
        "renditions": jobs.rendition_dicts(result.renditions),
        "fast_path": result.fast_path,
        "fallback_name": result.mp4.name,
        "duration": result.duration or None,
        "output_bytes": storage.tree_size(result.dest_dir),
    }


def _new_output(asset_id: int) -> str:
    return storage.output_dir(asset_id, "v" + secrets.token_hex(4))


def _scaled(progress: ProgressFn, low: float, high: float) -> ProgressFn:
    return lambda percent, speed=None: progress(low + (high - low) * percent / 100.0, speed)


def run_job(job_id: int, *, worker_id: str | None = None, on_progress: ProgressFn | None = None) -> JobStatus | None:
    """Claim, probe, transcode and publish one job (twice for the fast path); returns the job's
    status afterwards ("running" never: a run ends done, failed, cancelled or queued again).

    None means the job was not ours to run (already running elsewhere, done, cancelled
    or deleted) — a duplicate delivery of the task is harmless.
    """
    worker_id = worker_id or jobs.new_worker_id()
    job = jobs.claim(job_id, worker_id)
    if job is None:
        log.info("media job %s: not queued, nothing to do", job_id)
        return None
    asset = job.asset
    asset_id, source_rel = asset.id, asset.source_path
    # What players may be using: the published version (and the previous one in its grace period).
    published = asset.output_dir if asset.is_ready else None
    published_rungs = [r.get("name") for r in asset.renditions or []] if published and asset.fast_path else []
    # A killed worker may have left a partial folder here; nobody else owns this asset now.
    storage.clear_asset_dir(asset_id, keep=jobs.published_names(asset))
    storage.prepare_asset_dir(asset_id)
    tracker = jobs.Tracker(
        db.engine,
        job_id,
        worker_id,
        interval=float(current_app.config["JOB_PROGRESS_INTERVAL"]),
        on_progress=on_progress,
    )
    db.session.commit()  # end the read transaction: progress writes come from another connection
    log.info("media job %s: asset %s claimed by %s", job_id, asset_id, worker_id)

    def stop() -> bool:
        return _shutdown.is_set() or tracker.should_cancel()

    unpublished: list[Path] = []  # folders moved into place but not (yet) published
    playable = False  # an earlier phase of this job is published
    try:
        if not source_rel:
            raise MediaError("missing", "找不到上传的源文件，请删除后重新上传")
        source = storage.absolute(source_rel)
        info = probe(source)
        decode_check(source)
        if not jobs.record_probe(job_id, worker_id, asset_id, probe_facts(info)):
            raise MediaError("cancelled", "转码已取消")
        the_plan = plan(info)
        _check(lambda: _shutdown.is_set() or tracker.should_cancel(now=True))
        if two_phase(the_plan):
            first_rel = published if published_rungs == [the_plan.rungs[0].name] else None
            if first_rel is not None and (storage.absolute(first_rel) / "master.m3u8").is_file():
                playable = True
                log.info("media job %s: phase 1 already published in %s; resuming at phase 2", job_id, first_rel)
                tracker.progress(FIRST_PHASE_SHARE)
            else:
                first_rel = _new_output(asset_id)
                dest = storage.absolute(first_rel)
                unpublished.append(dest)
                first = first_phase(
                    source,
                    dest,
                    the_plan,
                    should_cancel=stop,
                    on_progress=_scaled(tracker.progress, 0.0, FIRST_PHASE_SHARE),
                )
                if not _publish(job_id, worker_id, asset_id, first, first_rel, phase=1):
                    return _status(job_id)
                unpublished.remove(dest)
                playable = True
                _check(lambda: _shutdown.is_set() or tracker.should_cancel(now=True))
            output_rel = _new_output(asset_id)
            dest = storage.absolute(output_rel)
            unpublished.append(dest)
            result = second_phase(
                source,
                storage.absolute(first_rel),
                dest,
                the_plan,
                should_cancel=stop,
                on_progress=_scaled(tracker.progress, FIRST_PHASE_SHARE, 100.0),
            )
            phase = 2
        else:
            output_rel = _new_output(asset_id)
            dest = storage.absolute(output_rel)
            unpublished.append(dest)
            result = transcode(source, dest, on_progress=tracker.progress, should_cancel=stop, info=info)
            phase = 0
        if not _publish(job_id, worker_id, asset_id, result, output_rel, phase=phase):
            return _status(job_id)
        unpublished.clear()
    except MediaError as error:
        _discard(*unpublished)
        if tracker.should_cancel(now=True):
            log.info("media job %s: stopped (%s)", job_id, "cancelled, deleted or taken over")
            db.session.rollback()
            return _status(job_id)
        # Under systemd's default KillMode=control-group, ffmpeg gets the worker's stop signal
        # itself and may exit (255) a moment before the worker's handler has run: wait for it.
        if _shutdown.is_set() or (error.code in RETRYABLE and _shutdown.wait(1.0)):
            return _hand_back(job_id, worker_id, asset_id)
        if error.code == "cancelled":
            db.session.rollback()
            return _status(job_id)
        reason = SECOND_PHASE_FAILED.format(reason=error.reason) if playable else error.reason
        if error.code in RETRYABLE:
            log.warning("media job %s: %s; trying again", job_id, error.reason)
            db.session.rollback()
            jobs.release(job_id, worker_id, asset_id, reason, error.detail)
            return _status(job_id)
        log.warning("media job %s failed: %s %s", job_id, error.code, error.detail[-500:])
        jobs.fail(job_id, worker_id, asset_id, error.code, reason, error.detail)
        return _status(job_id)
    except Exception as error:
        _discard(*unpublished)
        db.session.rollback()
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            log.warning("media job %s: disk full: %r", job_id, error)
            reason = SECOND_PHASE_FAILED.format(reason=DISK_FULL_REASON) if playable else DISK_FULL_REASON
            jobs.fail(job_id, worker_id, asset_id, "disk_full", reason, repr(error))
            return _status(job_id)
        if _shutdown.is_set():
            return _hand_back(job_id, worker_id, asset_id)
        log.exception("media job %s: unexpected error", job_id)
        jobs.release(
            job_id, worker_id, asset_id, jobs.UNEXPECTED_REASON.format(error=type(error).__name__), repr(error)
        )
        return _status(job_id)
    except BaseException:
        # Ctrl-C in `flask media transcode`, SystemExit: hand the job back at once, attempt not counted.
        _discard(*unpublished)
        db.session.rollback()
        jobs.release(job_id, worker_id, asset_id, jobs.SHUTDOWN_REASON, count_attempt=False)
        raise
    log.info("media job %s: asset %s ready in %s", job_id, asset_id, output_rel)
    return JobStatus.done


def _check(stop: Callable[[], bool]) -> None:
    if stop():
        raise MediaError("cancelled", "转码已取消")


def _publish(
    job_id: int, worker_id: str, asset_id: int, result: TranscodeResult, output_rel: str, *, phase: int
) -> bool:
    """Publish ``result``; phase 1 leaves the job running. False (and the folder removed) when the
    claim was lost meanwhile: cancelled, deleted or taken over."""
    if jobs.publish(
        job_id, worker_id, asset_id, output_facts(result, output_rel), final=phase != 1, progress=FIRST_PHASE_SHARE
    ):
        log.info(
            "media job %s: published %s (%s)",
            job_id,
            output_rel,
            {0: "complete", 1: "phase 1: copied rung, playable", 2: "phase 2: every rung"}[phase],
        )
        return True
    log.info("media job %s: lost the claim before publishing; %s removed", job_id, output_rel)
    _discard(result.dest_dir)
    return False


def _hand_back(job_id: int, worker_id: str, asset_id: int) -> JobStatus | None:
    log.warning("media job %s: worker stopping; job handed back to the queue", job_id)
    db.session.rollback()
    jobs.release(job_id, worker_id, asset_id, jobs.SHUTDOWN_REASON, count_attempt=False)
    return _status(job_id)


def _discard(*folders: Path) -> None:
    for dest in folders:
        shutil.rmtree(dest, ignore_errors=True)
        try:
            dest.parent.rmdir()  # only when empty: the asset folder of a deleted asset
        except OSError:
            pass


def _status(job_id: int) -> JobStatus | None:
    db.session.rollback()
    job = db.session.get(TranscodeJob, job_id)
    return job.status if job is not None else None
