"""Receiving stations' set-top boxes, what changed in the catalogue, and what the boxes played.

A ``Device`` is one 远程教育接收站点 (one key per station). Only the SHA-256 of its key is
stored: keys are 32 random bytes, so a fast hash is as safe as a slow one and a lookup is one
indexed equality. ``FeedState`` is one row whose ``version`` moves whenever anything a feed
shows changes (courses, lessons, categories, assignments); feeds cache on it, so a catalogue
is built once per change, not per request. ``Tombstone`` rows say a course or lesson left the
catalogue (deleted, unpublished, unassigned) for boxes that sync with ``updated_since``.
``Play`` is one playback at a station, bounded like a member's progress; ``PlayCredit`` links a
play to the offline credit entry a secretary made from it for one attending member (once).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dangxiao.accounts.models import Branch
from dangxiao.db_types import utcnow
from dangxiao.extensions import db


class Device(db.Model):
    __tablename__ = "tv_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    village: Mapped[str] = mapped_column(String(100), default="")
    contact: Mapped[str] = mapped_column(String(100), default="")
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    key_hint: Mapped[str] = mapped_column(String(8), default="")  # first characters, to tell keys apart
    key_issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_ip: Mapped[str] = mapped_column(String(45), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    branch: Mapped[Branch] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class FeedState(db.Model):
    """Exactly one row (id 1), created by the migration."""

    __tablename__ = "tv_feed_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Tombstone(db.Model):
    __tablename__ = "tv_tombstones"
    __table_args__ = (Index("ix_tv_tombstones_removed", "removed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "course" | "lesson"
    ref_id: Mapped[int] = mapped_column(Integer)
    course_id: Mapped[int] = mapped_column(Integer)  # the course itself, or the lesson's course
    removed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Play(db.Model):
    __tablename__ = "tv_plays"
    __table_args__ = (Index("ix_tv_plays_device_started", "device_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True)  # the box reports progress with it
    device_id: Mapped[int] = mapped_column(ForeignKey("tv_devices.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("school_lessons.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)  # watched, bounded by wall clock and duration
    position: Mapped[float] = mapped_column(Float, default=0.0)  # where to resume
    attendees: Mapped[int | None] = mapped_column(Integer)

    device: Mapped[Device] = relationship()
    lesson = relationship("Lesson")


class PlayCredit(db.Model):
    __tablename__ = "tv_play_credits"
    __table_args__ = (UniqueConstraint("play_id", "user_id", name="uq_tv_play_credits_play_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    play_id: Mapped[int] = mapped_column(ForeignKey("tv_plays.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credit_entry_id: Mapped[int] = mapped_column(ForeignKey("school_credit_entries.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
