"""Catalogue and study progress: categories, courses, lessons, assignments, watch sessions.

A lesson points at a media asset (school depends on media, never the reverse). Progress is
one row per member and lesson holding the union of credited intervals; a watch session is
the server's handle for one playback, superseded when the member starts another.
Quiz and credit tables live in ``quiz_models`` and ``credit_models``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from media import models as media_models  # noqa: F401 — Lesson.asset names MediaAsset: load it with us


class Category(db.Model):
    """A node of the catalogue tree (理论学习 › 党章党规 …), ordered by `position`."""

    __tablename__ = "school_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("school_categories.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    parent: Mapped[Category | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Category]] = relationship(back_populates="parent", order_by="Category.position")

    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_school_categories_parent_name"),)


class Course(db.Model):
    """A course: required (assigned to branches per year) or elective (members enrol).

    `open_to_all`: any active member may see and enrol; otherwise only members under an
    assigned branch see it. `credit_hours` is what the catalogue shows; the ledger credits
    lessons by their duration under the current rules (see ``credits``).
    """

    __tablename__ = "school_courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")  # Markdown as typed
    summary_html: Mapped[str] = mapped_column(Text, default="")  # sanitised once at write time
    category_id: Mapped[int | None] = mapped_column(ForeignKey("school_categories.id", ondelete="SET NULL"), index=True)
    teacher: Mapped[str] = mapped_column(String(50), default="")
    year: Mapped[int]
    required: Mapped[bool] = mapped_column(default=False)
    open_to_all: Mapped[bool] = mapped_column(default=True)
    credit_hours: Mapped[float] = mapped_column(Float, default=0.0)
    cover_path: Mapped[str | None] = mapped_column(String(300))  # relative to MEDIA_ROOT
    # Minutes without interaction before the player asks 仍在学习吗？; None = off.
    attention_minutes: Mapped[int | None]
    published: Mapped[bool] = mapped_column(default=False, index=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    category: Mapped[Category | None] = relationship()
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="course", order_by="Lesson.position", cascade="all, delete-orphan", passive_deletes=True
    )


class Lesson(db.Model):
    """One lesson of a course, playing one ready media asset; `duration` copied from it."""

    __tablename__ = "school_lessons"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("school_courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    description_html: Mapped[str] = mapped_column(Text, default="")
    asset_id: Mapped[int] = mapped_column(ForeignKey("media_assets.id", ondelete="RESTRICT"), index=True)
    duration: Mapped[float] = mapped_column(Float, default=0.0)  # seconds
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship(back_populates="lessons")
    asset = relationship("MediaAsset", lazy="joined")
    attachments: Mapped[list[LessonAttachment]] = relationship(
        back_populates="lesson", cascade="all, delete-orphan", passive_deletes=True, order_by="LessonAttachment.id"
    )


class LessonAttachment(db.Model):
    """A handout (PDF, image …) checked by content when uploaded."""

    __tablename__ = "school_lesson_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("school_lessons.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))  # as shown and downloaded
    stored_path: Mapped[str] = mapped_column(String(300))  # relative to MEDIA_ROOT
    mimetype: Mapped[str] = mapped_column(String(60))
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    lesson: Mapped[Lesson] = relationship(back_populates="attachments")


class CourseAssignment(db.Model):
    """A required course for every member under `branch_id` in `year`, due by `deadline`."""

    __tablename__ = "school_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("school_courses.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), index=True)
    year: Mapped[int]
    deadline: Mapped[date] = mapped_column(Date)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    course: Mapped[Course] = relationship()
    branch = relationship("Branch")

    __table_args__ = (
        UniqueConstraint("course_id", "branch_id", "year", name="uq_school_assignments_course_branch_year"),
    )


class Enrollment(db.Model):
    """A member's own choice of an elective (required courses need no row)."""

    __tablename__ = "school_enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("school_courses.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "course_id", name="uq_school_enrollments_user_course"),)


class LessonProgress(db.Model):
    """What a member has really played of a lesson: the union of credited intervals.

    `current_session_id` names the one live watch session; starting another replaces it
    with a conditional UPDATE, so the old session's reports are refused from then on.
    """

    __tablename__ = "school_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("school_lessons.id", ondelete="CASCADE"), index=True)
    intervals: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    played: Mapped[float] = mapped_column(Float, default=0.0)  # seconds covered by `intervals`
    position: Mapped[float] = mapped_column(Float, default=0.0)  # where to resume
    complete: Mapped[bool] = mapped_column(default=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_session_id: Mapped[int | None] = mapped_column(ForeignKey("school_watch_sessions.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    lesson: Mapped[Lesson] = relationship()

    __table_args__ = (
        UniqueConstraint("user_id", "lesson_id", name="uq_school_progress_user_lesson"),
        Index("ix_school_progress_user_updated", "user_id", "updated_at"),
    )


class WatchSession(db.Model):
    """One playback the server issued; reports name it by its random `token`."""

    __tablename__ = "school_watch_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("school_lessons.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Wall clock of the last accepted report (or the start): the budget for the next one.
    last_report_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reports: Mapped[int] = mapped_column(default=0)
    credited: Mapped[float] = mapped_column(Float, default=0.0)
    client: Mapped[str | None] = mapped_column(String(200))  # user agent, for the secretary's questions


class CourseCompletion(db.Model):
    """A member finished every lesson of a course (awarded once; the bonus references it)."""

    __tablename__ = "school_course_completions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("school_courses.id", ondelete="CASCADE"), index=True)
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "course_id", name="uq_school_course_completions_user_course"),)


class DeadlineReminder(db.Model):
    """A reminder already sent (`kind` "week" or "day"), so a rerun never sends it twice."""

    __tablename__ = "school_deadline_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("school_assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("assignment_id", "user_id", "kind", name="uq_school_deadline_reminders_assignment_user_kind"),
    )
