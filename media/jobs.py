"""The transcoding job's state machine, kept in the database row.

Every transition is one conditional UPDATE: a worker only writes while the row
says it is running *and* carries that worker's claim id, so a cancel, a reaper
re-queue or a second copy of the task always wins over a late or stale writer.

Job and asset move separately: the asset is ``ready`` from the first publish on (the
stream-copied phase of the fast path), while the job runs on until its last publish and
only then is ``done``. Once ready, an asset stays ready — a later retry, re-queue, cancel
or failure of its job never takes the published version away from players (see
:func:`_set_asset`); a new publish only replaces the version, and the replaced one is
still served for ``MEDIA_PREVIOUS_VERSION_GRACE`` seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import case, func, literal, select, update
from sqlalchemy.engine import Engine

from dangxiao import policy
from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from media import storage
from media.models import AssetStatus, JobStatus, MediaAsset, TranscodeJob

log = logging.getLogger(__name__)

ACTIVE = (JobStatus.queued, JobStatus.running)
#: Reasons say what happened, never what happens next: GAVE_UP_REASON quotes them on a failed job.
STALE_REASON = "转码进程没有响应（超过 {timeout} 秒没有进度）"
REQUEUED = "{reason}，已重新排队"
GAVE_UP_REASON = "转码多次中断（已尝试 {attempts} 次），请稍后重试或联系管理员。最后一次错误：{last}"
UNEXPECTED_REASON = "转码时发生意外错误：{error}"
SHUTDOWN_REASON = "工作进程已停止，任务已重新排队（不计入尝试次数）"
#: Seconds a replaced version is still served (players that started on it keep playing).
DEFAULT_PREVIOUS_VERSION_GRACE = 24 * 3600
#: Seconds between sweeps of leftover files (the reaper also cleans a job it gives up on at once).
DEFAULT_SWEEP_INTERVAL = 300
#: Failures in the file itself (media.probe / media.errors codes): transcoding it again cannot help.
#: Everything else (gave_up, ffmpeg_failed — killed, disk full —, cancelled, ffmpeg_missing) may be retried.
PERMANENT_FAILURES = frozenset({"not_media", "no_streams", "undecodable", "zero_duration", "empty", "missing"})


def new_worker_id() -> str:
    """Unique per claim: host and pid for people reading the row, a random part for safety."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _update_job(job_id: int, worker_id: str | None = None, statuses=None):
    stmt = update(TranscodeJob).where(TranscodeJob.id == job_id)
    if worker_id is not None:
        stmt = stmt.where(TranscodeJob.worker_id == worker_id, TranscodeJob.status == JobStatus.running)
    if statuses is not None:
        stmt = stmt.where(TranscodeJob.status.in_(statuses))
    return stmt.execution_options(synchronize_session=False)


def _set_asset(asset_id: int, **values: Any) -> None:
    """Update the asset row; a ``status`` other than ready is not applied to a ready asset.

    A ready asset has a published version that lessons and boxes are playing; a re-run
    of its job (phase 2 of the fast path, a retry, a re-queue) or its failure or cancel
    leaves it playable and only records the reason.
    """
    values.setdefault("updated_at", utcnow())
    status = values.get("status")
    if status is not None and status != AssetStatus.ready:
        values["status"] = case(
            (MediaAsset.status == AssetStatus.ready, MediaAsset.status), else_=literal(status, MediaAsset.status.type)
        )
    db.session.execute(
        update(MediaAsset)
        .where(MediaAsset.id == asset_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def enqueue(job_id: int) -> bool:
    """Hand the job to the queue; a failure here is logged, the reaper re-sends queued jobs."""
    task = current_app.extensions["media.transcode_task"]
    try:
        task(job_id)
    except Exception:  # noqa: BLE001 — the row stays queued and is recovered later
        log.exception("could not enqueue media job %s", job_id)
        return False
    return True


# --- worker side -------------------------------------------------------------------------


def claim(job_id: int, worker_id: str) -> TranscodeJob | None:
    """Take a queued job for this worker, or None when it is not (or no longer) queued."""
    now = utcnow()
    result = db.session.execute(
        _update_job(job_id, statuses=[JobStatus.queued]).values(
            status=JobStatus.running,
            worker_id=worker_id,
            attempts=TranscodeJob.attempts + 1,
            heartbeat_at=now,
            started_at=now,
            finished_at=None,
            progress=0.0,
            speed=None,
            error=None,
            error_detail=None,  # the previous attempt's error is history now
        )
    )
    if result.rowcount != 1:
        db.session.rollback()
        return None
    job = db.session.get(TranscodeJob, job_id)
    assert job is not None
    _set_asset(job.asset_id, status=AssetStatus.probing, failure_code=None, failure_reason=None)
    db.session.commit()
    return db.session.get(TranscodeJob, job_id)


@dataclass
class Tracker:
    """Progress writes (throttled, they double as the heartbeat) and cancel checks of one claim.

    Uses its own short transactions on the engine, so it never waits on the session.
    """

    engine: Engine
    job_id: int
    worker_id: str
    interval: float = 1.0
    lost: bool = False
    on_progress: Any = None
    _last_write: float = field(default=0.0, repr=False)
    _last_check: float = field(default=0.0, repr=False)

    def progress(self, percent: float, speed: float | None = None) -> None:
        if self.on_progress is not None:
            self.on_progress(percent, speed)
        now = time.monotonic()
        if now - self._last_write < self.interval and percent < 100.0:
            return
        self._last_write = now
        self.heartbeat(percent, speed)

    def heartbeat(self, percent: float | None = None, speed: float | None = None) -> bool:
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if percent is not None:
            values.update(progress=round(float(percent), 2), speed=speed)
        with self.engine.begin() as conn:
            rows = conn.execute(_update_job(self.job_id, self.worker_id).values(**values)).rowcount
        if rows != 1:
            self.lost = True
        return not self.lost

    def should_cancel(self, *, now: bool = False) -> bool:
        """True once the row was cancelled, deleted or handed to another worker.

        Reads the row at most once a second, unless ``now`` (before deciding how a run ended).
        """
        clock = time.monotonic()
        if self.lost or (not now and clock - self._last_check < 1.0):
            return self.lost
        self._last_check = clock
        with self.engine.connect() as conn:
            owner = conn.execute(
                select(TranscodeJob.worker_id).where(
                    TranscodeJob.id == self.job_id, TranscodeJob.status == JobStatus.running
                )
            ).scalar()
        self.lost = owner != self.worker_id
        return self.lost


def record_probe(job_id: int, worker_id: str, asset_id: int, facts: dict[str, Any]) -> bool:
    """Store what ffprobe found and move the asset to "transcoding"; False if no longer ours."""
    result = db.session.execute(_update_job(job_id, worker_id).values(heartbeat_at=utcnow()))
    if result.rowcount != 1:
        db.session.rollback()
        return False
    _set_asset(asset_id, status=AssetStatus.transcoding, **facts)
    db.session.commit()
    return True


def previous_version_grace() -> float:
    return float(current_app.config.get("MEDIA_PREVIOUS_VERSION_GRACE") or DEFAULT_PREVIOUS_VERSION_GRACE)


def publish(
    job_id: int, worker_id: str, asset_id: int, values: dict[str, Any], *, final: bool = True, progress: float = 100.0
) -> bool:
    """Make the output in ``values["output_dir"]`` (already in place) the asset's version.

    The asset is ready from now on. ``final`` marks the job done; otherwise (the first phase
    of the fast path) the job keeps running at ``progress`` and publishes again later. The
    version this replaces stays servable for :func:`previous_version_grace` seconds.
    """
    now = utcnow()
    job_values: dict[str, Any] = {"heartbeat_at": now, "error": None, "error_detail": None}
    if final:
        job_values.update(status=JobStatus.done, progress=100.0, finished_at=now, speed=None)
    else:
        job_values.update(progress=progress)
    result = db.session.execute(_update_job(job_id, worker_id).values(**job_values))
    if result.rowcount != 1:
        db.session.rollback()
        return False
    replaced = (MediaAsset.status == AssetStatus.ready) & MediaAsset.output_dir.isnot(None)
    _set_asset(
        asset_id,
        status=AssetStatus.ready,
        failure_code=None,
        failure_reason=None,
        ready_at=func.coalesce(MediaAsset.ready_at, now),  # when it first became playable
        # SET expressions read the row as it was: the current version becomes the previous one
        previous_output_dir=case((replaced, MediaAsset.output_dir), else_=MediaAsset.previous_output_dir),
        previous_until=case(
            (replaced, now + timedelta(seconds=previous_version_grace())), else_=MediaAsset.previous_until
        ),
        **values,
    )
    db.session.commit()
    return True


def fail(job_id: int, worker_id: str, asset_id: int, code: str, reason: str, detail: str = "") -> bool:
    """A permanent failure: the reason (Chinese) goes on the asset for the admin to read."""
    now = utcnow()
    result = db.session.execute(
        _update_job(job_id, worker_id).values(
            status=JobStatus.failed,
            error=reason,
            error_detail=detail[-4000:] or None,
            finished_at=now,
            speed=None,
        )
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    _set_asset(asset_id, status=AssetStatus.failed, failure_code=code, failure_reason=reason)
    db.session.commit()
    return True


def release(
    job_id: int, worker_id: str, asset_id: int, reason: str, detail: str = "", *, count_attempt: bool = True
) -> JobStatus | None:
    """Hand the job back to the queue: after an error worth another attempt (``reason`` says
    what happened; it is quoted if attempts have run out and the job fails instead), or at
    shutdown with ``count_attempt=False`` (the claim's attempt is given back, never fails)."""
    job = db.session.get(TranscodeJob, job_id)
    if job is None or job.worker_id != worker_id or job.status != JobStatus.running:
        db.session.rollback()
        return None
    if count_attempt and job.attempts >= max_attempts():
        reason = GAVE_UP_REASON.format(attempts=job.attempts, last=reason)
        return JobStatus.failed if fail(job_id, worker_id, asset_id, "gave_up", reason, detail) else None
    if count_attempt:
        reason = REQUEUED.format(reason=reason)
    result = db.session.execute(
        _update_job(job_id, worker_id).values(
            status=JobStatus.queued,
            worker_id=None,
            error=reason,
            error_detail=detail[-4000:] or None,
            queued_at=utcnow(),
            speed=None,
            progress=0.0,
            attempts=TranscodeJob.attempts - (0 if count_attempt else 1),
        )
    )
    if result.rowcount != 1:
        db.session.rollback()
        return None
    _set_asset(asset_id, status=AssetStatus.queued)
    db.session.commit()
    enqueue(job_id)
    return JobStatus.queued


# --- admin side --------------------------------------------------------------------------


def cancel(actor: Any, asset: MediaAsset) -> None:
    """Stop a queued or running job; a running worker sees it within a second and kills ffmpeg."""
    policy.require(actor, "media.manage", asset)
    job = asset.job
    if job is None:
        raise DomainError("该媒体没有转码任务。", "no_job")
    result = db.session.execute(
        _update_job(job.id, statuses=list(ACTIVE)).values(
            status=JobStatus.cancelled, finished_at=utcnow(), speed=None, error="管理员取消了转码"
        )
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise DomainError("只有排队中或转码中的任务可以取消。", "not_cancellable")
    _set_asset(asset.id, status=AssetStatus.cancelled, failure_code="cancelled", failure_reason="转码已取消")
    db.session.commit()


def retry(actor: Any, asset: MediaAsset) -> None:
    """Queue a failed or cancelled job again from scratch (attempts start over)."""
    policy.require(actor, "media.manage", asset)
    job = asset.job
    if job is None or asset.source_path is None:
        raise DomainError("该媒体还没有上传完成，无法重试。", "not_retryable")
    if asset.status == AssetStatus.failed and asset.failure_code in PERMANENT_FAILURES:
        raise DomainError(
            f"文件本身无法转码（{asset.failure_reason or asset.failure_code}），再次转码也不会成功。"
            "请删除后上传可以播放的视频或音频文件。",
            "permanent_failure",
        )
    result = db.session.execute(
        _update_job(job.id, statuses=[JobStatus.failed, JobStatus.cancelled]).values(
            status=JobStatus.queued,
            attempts=0,
            progress=0.0,
            speed=None,
            error=None,
            error_detail=None,
            worker_id=None,
            heartbeat_at=None,
            finished_at=None,
            queued_at=utcnow(),
        )
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise DomainError("只有失败或已取消的任务可以重试。", "not_retryable")
    _set_asset(asset.id, status=AssetStatus.queued, failure_code=None, failure_reason=None)
    db.session.commit()
    enqueue(job.id)


# --- the reaper ----------------------------------------------------------------------------


def heartbeat_timeout() -> float:
    return float(current_app.config["JOB_HEARTBEAT_TIMEOUT"])


def max_attempts() -> int:
    return max(1, int(current_app.config["JOB_MAX_ATTEMPTS"]))


def reaper_interval() -> float:
    configured = current_app.config.get("JOB_REAPER_INTERVAL")
    return float(configured) if configured else min(30.0, max(1.0, heartbeat_timeout() / 3))


@dataclass
class ReapReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)
    cleaned: list[int] = field(default_factory=list)  # asset ids whose leftover folders were removed


def reap(now: datetime | None = None, pending_tasks: int | None = None) -> ReapReport:
    """Re-queue running jobs whose heartbeat stopped, fail those out of attempts, re-send lost ones.

    `pending_tasks` is the queue length; when the queue is empty, jobs that have been
    queued for a while were lost on the way (enqueue failed, queue wiped) and are sent again.
    """
    now = now or utcnow()
    timeout = heartbeat_timeout()
    report = ReapReport()
    stale = db.session.scalars(
        select(TranscodeJob).where(
            TranscodeJob.status == JobStatus.running,
            TranscodeJob.heartbeat_at < now - timedelta(seconds=timeout),
        )
    ).all()
    for job in stale:
        last = STALE_REASON.format(timeout=int(timeout))
        guard = _update_job(job.id, job.worker_id).where(TranscodeJob.heartbeat_at == job.heartbeat_at)
        if job.attempts >= max_attempts():
            reason = GAVE_UP_REASON.format(attempts=job.attempts, last=last)
            values: dict[str, Any] = {"status": JobStatus.failed, "error": reason, "finished_at": now, "speed": None}
        else:
            reason = REQUEUED.format(reason=last)
            values = {
                "status": JobStatus.queued,
                "worker_id": None,
                "error": reason,
                "queued_at": now,
                "speed": None,
                "progress": 0.0,
            }
        if db.session.execute(guard.values(**values)).rowcount != 1:
            db.session.rollback()
            continue
        if values["status"] == JobStatus.failed:
            _set_asset(job.asset_id, status=AssetStatus.failed, failure_code="gave_up", failure_reason=reason)
            report.failed.append(job.id)
            report.cleaned.append(job.asset_id)
        else:
            _set_asset(job.asset_id, status=AssetStatus.queued)
            report.requeued.append(job.id)
        db.session.commit()
        log.warning("media job %s: no heartbeat since %s → %s", job.id, job.heartbeat_at, values["status"].value)
    for job_id in report.requeued:
        enqueue(job_id)
    for asset_id in report.cleaned:
        # Given up: its worker is gone; what it was writing is removed now, not at the next sweep.
        _clear_leftovers(asset_id)
    if pending_tasks == 0:
        cutoff = now - timedelta(seconds=2 * reaper_interval())
        lost = db.session.scalars(
            select(TranscodeJob.id)
            .where(TranscodeJob.status == JobStatus.queued, TranscodeJob.queued_at < cutoff)
            .order_by(TranscodeJob.id)
        ).all()
        for job_id in lost:
            if job_id not in report.requeued and enqueue(job_id):
                report.resent.append(job_id)
    db.session.commit()
    return report


def published_names(asset: MediaAsset | None, now: datetime | None = None) -> set[str]:
    """Version folders of ``asset`` that delivery may still serve."""
    now = now or utcnow()
    if asset is None:
        return set()
    names = {asset.version} if asset.output_dir else set()
    if asset.previous_output_dir and asset.output_for(asset.previous_version or "", now):
        names.add(asset.previous_version)
    return names


def _clear_leftovers(asset_id: int, min_age: float = 0.0, now: datetime | None = None) -> list[str]:
    """Remove everything in the asset's folder but its servable versions; the asset's row decides."""
    now = now or utcnow()
    db.session.expire_all()
    asset = db.session.get(MediaAsset, asset_id)
    keep = published_names(asset, now)
    db.session.rollback()
    if asset is None:
        keep = set()
    return storage.clear_asset_dir(asset_id, keep=keep, older_than=now.timestamp() - min_age)


@dataclass
class SweepReport:
    expired: list[int] = field(default_factory=list)  # assets whose previous version was removed
    removed: list[str] = field(default_factory=list)  # leftover paths removed (relative to MEDIA_ROOT)


def sweep_interval() -> float:
    return float(current_app.config.get("JOB_SWEEP_INTERVAL") or DEFAULT_SWEEP_INTERVAL)


def sweep(now: datetime | None = None, min_age: float | None = None) -> SweepReport:
    """Remove files nobody serves or writes any more (the reaper runs this every few minutes).

    - previous versions past their grace period (the row forgets them first, then the folder goes);
    - in each asset folder whose job is not queued or running: partial folders of killed or
      given-up workers (``.v….partial-*``), swapped-out ``.old-*`` folders, unpublished versions;
    - folders of assets that no longer exist.
    Entries younger than ``min_age`` seconds (default: the heartbeat timeout) are left alone, so a
    worker that claimed the job a moment ago never loses its fresh temp folder.
    """
    now = now or utcnow()
    min_age = heartbeat_timeout() if min_age is None else min_age
    report = SweepReport()
    expired = db.session.execute(
        select(MediaAsset.id, MediaAsset.previous_output_dir).where(
            MediaAsset.previous_output_dir.isnot(None), MediaAsset.previous_until <= now
        )
    ).all()
    for asset_id, folder in expired:
        result = db.session.execute(
            update(MediaAsset)
            .where(MediaAsset.id == asset_id, MediaAsset.previous_output_dir == folder)
            .values(previous_output_dir=None, previous_until=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if result.rowcount == 1:
            storage.remove_tree(folder)
            report.expired.append(asset_id)
    busy = set(db.session.scalars(select(TranscodeJob.asset_id).where(TranscodeJob.status.in_(ACTIVE))))
    # One read of every asset's servable versions; a folder with more in it is then cleared
    # by _clear_leftovers, which reads that asset's row again just before removing anything.
    served = {asset.id: published_names(asset, now) for asset in db.session.scalars(select(MediaAsset))}
    db.session.rollback()
    for asset_id in storage.asset_ids_on_disk():
        if asset_id in busy:
            continue
        names = {entry.name for entry in storage.absolute(storage.asset_dir(asset_id)).iterdir()}
        if asset_id not in served or names - served[asset_id]:
            report.removed += _clear_leftovers(asset_id, min_age, now)
    return report


# --- reading -------------------------------------------------------------------------------


def job_state(job: TranscodeJob | None) -> dict[str, Any] | None:
    """The job as the status endpoint and the asset page show it."""
    if job is None:
        return None
    heartbeat = aware(job.heartbeat_at)
    stale = bool(
        job.status == JobStatus.running
        and heartbeat is not None
        and (utcnow() - heartbeat).total_seconds() > heartbeat_timeout()
    )
    return {
        "id": job.id,
        "status": job.status.value,
        "status_label": job.status.label,
        "progress": round(job.progress or 0.0, 1),
        "speed": job.speed,
        "attempts": job.attempts,
        "max_attempts": max_attempts(),
        "error": job.error,
        # The asset already plays (phase 1 published) while the job adds the lower rungs.
        "playable": bool(job.asset is not None and job.asset.is_ready),
        "stale": stale,
        "heartbeat_at": heartbeat.isoformat() if heartbeat else None,
    }


def counts() -> dict[str, int]:
    rows = db.session.execute(select(TranscodeJob.status, func.count()).group_by(TranscodeJob.status)).all()
    result = {status.value: 0 for status in JobStatus}
    result.update({status.value: n for status, n in rows})
    return result


def rendition_dicts(renditions) -> list[dict[str, Any]]:
    return [asdict(r) for r in renditions]
