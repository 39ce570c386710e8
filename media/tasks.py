"""The one code path that turns a queued job into a published asset.

The Huey task, `flask media transcode` and the tests all call :func:`run_job`. It is
idempotent: only a job still "queued" can be claimed, and the asset becomes ready
only after media.transcode has renamed the complete output into place.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from dangxiao.extensions import db
from media import jobs, storage
from media.errors import MediaError
from media.models import JobStatus, TranscodeJob
from media.probe import ProbeInfo, decode_check, probe
from media.transcode import TranscodeResult, transcode

log = logging.getLogger(__name__)

TASK_NAME = "media.transcode"

ProgressFn = Callable[[float, "float | None"], None]


def register_tasks(app: Flask) -> None:
    """Register the transcode task on this app's queue; it runs inside this app's context."""
    huey = app.extensions["huey"]

    @huey.task(name=TASK_NAME)
    def transcode_job(job_id: int) -> None:
        with app.app_context():
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


def run_job(job_id: int, *, worker_id: str | None = None,
            on_progress: ProgressFn | None = None) -> JobStatus | None:
    """Claim, probe, transcode and publish one job; returns the job's status afterwards.

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
    # A killed worker may have left a partial folder here; nobody else owns this asset now.
    storage.clear_asset_dir(asset_id)
    version = "v" + secrets.token_hex(4)
    output_rel = storage.output_dir(asset_id, version)
    dest = storage.absolute(output_rel)
    tracker = jobs.Tracker(db.engine, job_id, worker_id,
                           interval=float(current_app.config["JOB_PROGRESS_INTERVAL"]),
                           on_progress=on_progress)
    db.session.commit()  # end the read transaction: progress writes come from another connection
    log.info("media job %s: asset %s claimed by %s", job_id, asset_id, worker_id)
    try:
        if not source_rel:
            raise MediaError("missing", "找不到上传的源文件，请删除后重新上传")
        source = storage.absolute(source_rel)
        info = probe(source)
        decode_check(source)
        if not jobs.record_probe(job_id, worker_id, asset_id, probe_facts(info)):
            raise MediaError("cancelled", "转码已取消")
        result = transcode(source, dest, on_progress=tracker.progress,
                           should_cancel=tracker.should_cancel, info=info)
    except MediaError as error:
        _discard(dest)
        if error.code == "cancelled" or tracker.lost:
            log.info("media job %s: stopped (%s)", job_id, error.code)
            db.session.rollback()
            return _status(job_id)
        log.warning("media job %s failed: %s %s", job_id, error.code, error.detail[-500:])
        jobs.fail(job_id, worker_id, asset_id, error.code, error.reason, error.detail)
        return _status(job_id)
    except Exception as error:
        _discard(dest)
        log.exception("media job %s: unexpected error", job_id)
        db.session.rollback()
        jobs.release(job_id, worker_id, asset_id,
                     jobs.UNEXPECTED_REASON.format(error=type(error).__name__), repr(error))
        return _status(job_id)
    except BaseException:
        # Shutdown (Ctrl-C, SystemExit): hand the job back at once instead of waiting for the reaper.
        _discard(dest)
        db.session.rollback()
        jobs.release(job_id, worker_id, asset_id, "工作进程已停止，任务已重新排队")
        raise
    if not jobs.publish(job_id, worker_id, asset_id, output_facts(result, output_rel)):
        # Cancelled, deleted or taken over while we finished: what we wrote is not published.
        log.info("media job %s: lost the claim before publishing; output removed", job_id)
        _discard(dest)
        return _status(job_id)
    log.info("media job %s: asset %s ready in %s", job_id, asset_id, output_rel)
    return JobStatus.done


def _discard(dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    try:
        dest.parent.rmdir()  # only when empty: the asset folder of a deleted asset
    except OSError:
        pass


def _status(job_id: int) -> JobStatus | None:
    db.session.rollback()
    job = db.session.get(TranscodeJob, job_id)
    return job.status if job is not None else None
