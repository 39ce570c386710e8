"""The transcoding job's state machine, kept in the database row.

Every transition is one conditional UPDATE: a worker only writes while the row
says it is running *and* carries that worker's claim id, so a cancel, a reaper
re-queue or a second copy of the task always wins over a late or stale writer.
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
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from media.models import AssetStatus, JobStatus, MediaAsset, TranscodeJob

log = logging.getLogger(__name__)

ACTIVE = (JobStatus.queued, JobStatus.running)
STALE_REASON = "转码进程没有响应（超过 {timeout} 秒没有进度），已重新排队"
GAVE_UP_REASON = "转码多次中断（已尝试 {attempts} 次），请稍后重试或联系管理员。最后一次错误：{last}"
UNEXPECTED_REASON = "转码时发生意外错误：{error}"


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
    values.setdefault("updated_at", utcnow())
    db.session.execute(
        update(MediaAsset).where(MediaAsset.id == asset_id).values(**values)
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
            status=JobStatus.running, worker_id=worker_id, attempts=TranscodeJob.attempts + 1,
            heartbeat_at=now, started_at=now, finished_at=None, progress=0.0, speed=None,
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

    def should_cancel(self) -> bool:
        """True once the row was cancelled, deleted or handed to another worker."""
        now = time.monotonic()
        if self.lost or now - self._last_check < 1.0:
            return self.lost
        self._last_check = now
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


def publish(job_id: int, worker_id: str, asset_id: int, values: dict[str, Any]) -> bool:
    """Mark the job done and the asset ready (its output is already in place)."""
    now = utcnow()
    result = db.session.execute(
        _update_job(job_id, worker_id).values(
            status=JobStatus.done, progress=100.0, heartbeat_at=now, finished_at=now, error=None
        )
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    _set_asset(asset_id, status=AssetStatus.ready, ready_at=now, failure_code=None,
               failure_reason=None, **values)
    db.session.commit()
    return True


def fail(job_id: int, worker_id: str, asset_id: int, code: str, reason: str, detail: str = "") -> bool:
    """A permanent failure: the reason (Chinese) goes on the asset for the admin to read."""
    now = utcnow()
    result = db.session.execute(
        _update_job(job_id, worker_id).values(
            status=JobStatus.failed, error=reason, error_detail=detail[-4000:] or None,
            finished_at=now, speed=None,
        )
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    _set_asset(asset_id, status=AssetStatus.failed, failure_code=code, failure_reason=reason)
    db.session.commit()
    return True


def release(job_id: int, worker_id: str, asset_id: int, reason: str, detail: str = "") -> JobStatus | None:
    """An unexpected error or shutdown: re-queue the job, or fail it once attempts run out."""
    job = db.session.get(TranscodeJob, job_id)
    if job is None or job.worker_id != worker_id or job.status != JobStatus.running:
        db.session.rollback()
        return None
    if job.attempts >= max_attempts():
        reason = GAVE_UP_REASON.format(attempts=job.attempts, last=reason)
        return JobStatus.failed if fail(job_id, worker_id, asset_id, "gave_up", reason, detail) else None
    result = db.session.execute(
        _update_job(job_id, worker_id).values(
            status=JobStatus.queued, worker_id=None, error=reason, error_detail=detail[-4000:] or None,
            queued_at=utcnow(), speed=None,
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

def cancel(asset: MediaAsset) -> None:
    """Stop a queued or running job; a running worker sees it within a second and kills ffmpeg."""
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


def retry(asset: MediaAsset) -> None:
    """Queue a failed or cancelled job again from scratch (attempts start over)."""
    job = asset.job
    if job is None or asset.source_path is None:
        raise DomainError("该媒体还没有上传完成，无法重试。", "not_retryable")
    result = db.session.execute(
        _update_job(job.id, statuses=[JobStatus.failed, JobStatus.cancelled]).values(
            status=JobStatus.queued, attempts=0, progress=0.0, speed=None, error=None,
            error_detail=None, worker_id=None, heartbeat_at=None, finished_at=None, queued_at=utcnow(),
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
            reason = GAVE_UP_REASON.format(attempts=job.attempts, last=job.error or last)
            values: dict[str, Any] = {"status": JobStatus.failed, "error": reason, "finished_at": now,
                                      "speed": None}
        else:
            reason = last
            values = {"status": JobStatus.queued, "worker_id": None, "error": reason,
                      "queued_at": now, "speed": None}
        if db.session.execute(guard.values(**values)).rowcount != 1:
            db.session.rollback()
            continue
        if values["status"] == JobStatus.failed:
            _set_asset(job.asset_id, status=AssetStatus.failed, failure_code="gave_up", failure_reason=reason)
            report.failed.append(job.id)
        else:
            _set_asset(job.asset_id, status=AssetStatus.queued)
            report.requeued.append(job.id)
        db.session.commit()
        log.warning("media job %s: no heartbeat since %s → %s", job.id, job.heartbeat_at,
                    values["status"].value)
    for job_id in report.requeued:
        enqueue(job_id)
    if pending_tasks == 0:
        cutoff = now - timedelta(seconds=2 * reaper_interval())
        lost = db.session.scalars(
            select(TranscodeJob.id).where(
                TranscodeJob.status == JobStatus.queued, TranscodeJob.queued_at < cutoff
            ).order_by(TranscodeJob.id)
        ).all()
        for job_id in lost:
            if job_id not in report.requeued and enqueue(job_id):
                report.resent.append(job_id)
    db.session.commit()
    return report


# --- reading -------------------------------------------------------------------------------

def job_state(job: TranscodeJob | None) -> dict[str, Any] | None:
    """The job as the status endpoint and the asset page show it."""
    if job is None:
        return None
    heartbeat = aware(job.heartbeat_at)
    stale = bool(job.status == JobStatus.running and heartbeat is not None
                 and (utcnow() - heartbeat).total_seconds() > heartbeat_timeout())
    return {
        "id": job.id,
        "status": job.status.value,
        "status_label": job.status_label,
        "progress": round(job.progress or 0.0, 1),
        "speed": job.speed,
        "attempts": job.attempts,
        "max_attempts": max_attempts(),
        "error": job.error,
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
