"""Media assets, resumable uploads and transcoding jobs.

The job row is the truth about a transcode: the Huey task only carries a job id,
claims the row with a conditional UPDATE and reports progress into it, so a
lost task, a killed worker or a duplicate delivery can never publish twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dangxiao.db_types import LabelledEnum, aware, str_enum, utcnow
from dangxiao.extensions import db


class AssetStatus(LabelledEnum):
    uploading = "uploading", "上传中"
    queued = "queued", "排队中"
    probing = "probing", "检查文件"
    transcoding = "transcoding", "转码中"
    ready = "ready", "可播放"
    failed = "failed", "失败"
    cancelled = "cancelled", "已取消"


class JobStatus(LabelledEnum):
    queued = "queued", "排队中"
    running = "running", "运行中"
    done = "done", "已完成"
    failed = "failed", "失败"
    cancelled = "cancelled", "已取消"


class MediaAsset(db.Model):
    """One uploaded source and (once ready) its published HLS ladder, MP4 and poster."""

    __tablename__ = "media_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    original_filename: Mapped[str] = mapped_column(String(255))
    # Relative to MEDIA_ROOT; the source is kept so a failed job can be retried.
    source_path: Mapped[str | None] = mapped_column(String(300))
    sha256: Mapped[str | None] = mapped_column(String(64), unique=True)  # known once fully uploaded
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[AssetStatus] = mapped_column(str_enum(AssetStatus), default=AssetStatus.queued, index=True)
    failure_code: Mapped[str | None] = mapped_column(String(40))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None]
    height: Mapped[int | None]
    has_audio: Mapped[bool | None]
    has_video: Mapped[bool | None]
    # Relative to MEDIA_ROOT, e.g. "assets/12/v3f9c1a2b"; its last part is the URL version.
    output_dir: Mapped[str | None] = mapped_column(String(300))
    output_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    renditions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    fallback_name: Mapped[str | None] = mapped_column(String(20))  # video.mp4 or audio.m4a
    fast_path: Mapped[bool] = mapped_column(default=False)
    # The version published before the current one, still served until `previous_until` so a
    # player that started on it is not cut off (e.g. the stream-copied first phase of the fast path).
    previous_output_dir: Mapped[str | None] = mapped_column(String(300))
    previous_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    job: Mapped[TranscodeJob | None] = relationship(
        back_populates="asset", cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )

    @property
    def is_ready(self) -> bool:
        return self.status == AssetStatus.ready and bool(self.output_dir)

    @property
    def version(self) -> str | None:
        """The output folder's name; part of every file URL so cached files never go stale."""
        return self.output_dir.rsplit("/", 1)[-1] if self.output_dir else None

    @property
    def previous_version(self) -> str | None:
        return self.previous_output_dir.rsplit("/", 1)[-1] if self.previous_output_dir else None

    def output_for(self, version: str, now: datetime | None = None) -> str | None:
        """The output folder that serves URLs of ``version``: the current one, or the previous
        one during its grace period; None when that version may not (or no longer) be served."""
        if not self.is_ready:
            return None
        if version == self.version:
            return self.output_dir
        until = aware(self.previous_until)
        if version == self.previous_version and until is not None and until > (now or utcnow()):
            return self.previous_output_dir
        return None

    @property
    def audio_only(self) -> bool:
        return self.has_video is False

    def __repr__(self) -> str:
        return f"<MediaAsset {self.id} {self.status.value}>"


class TranscodeJob(db.Model):
    """The durable state of an asset's transcode; one row per asset, reused on retry."""

    __tablename__ = "media_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("media_assets.id", ondelete="CASCADE"), unique=True)
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus), default=JobStatus.queued, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    speed: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    error_detail: Mapped[str | None] = mapped_column(Text)
    # Unique per claim (host:pid:random): every write by a worker is conditional on it.
    worker_id: Mapped[str | None] = mapped_column(String(120))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    asset: Mapped[MediaAsset] = relationship(back_populates="job")

    def __repr__(self) -> str:
        return f"<TranscodeJob {self.id} asset={self.asset_id} {self.status.value}>"


class Upload(db.Model):
    """A resumable upload: bytes [0, received) are on disk and fsynced at `temp_path`."""

    __tablename__ = "media_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    temp_path: Mapped[str] = mapped_column(String(300))  # relative to MEDIA_ROOT
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Re-pointed at the identical asset when the content was already in the library.
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("media_assets.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def complete(self) -> bool:
        return self.completed_at is not None

    def __repr__(self) -> str:
        return f"<Upload {self.id} {self.received}/{self.size}>"
