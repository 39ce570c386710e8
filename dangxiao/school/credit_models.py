"""The study-credit (学时) ledger and the rules that feed it.

Entries are append-only: a correction is a reversing entry, and the database itself
refuses UPDATE and DELETE on ``school_credit_entries`` (triggers in the migration), so
no code path — ours or a hand-typed SQL statement — can rewrite a member's history.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dangxiao.db_types import LabelledEnum, str_enum, utcnow
from dangxiao.extensions import db


class CreditSource(LabelledEnum):
    lesson = "lesson", "课程学习"
    course = "course", "完成课程"
    quiz = "quiz", "测试通过"
    offline = "offline", "线下学习"
    correction = "correction", "更正"


class CreditEntry(db.Model):
    """One credit (or a reversal of one). `award_key` makes automatic awards happen once."""

    __tablename__ = "school_credit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    year: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    source: Mapped[CreditSource] = mapped_column(str_enum(CreditSource))
    ref_id: Mapped[int | None]  # lesson, course or quiz id, per `source`
    reference: Mapped[str] = mapped_column(String(200), default="")  # e.g. 三会一课 · 2026年3月支部党员大会
    reason: Mapped[str] = mapped_column(Text, default="")
    # e.g. "lesson:12" — unique per member, so a lesson credits once however often it completes.
    award_key: Mapped[str | None] = mapped_column(String(80))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("school_credit_entries.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user = relationship("User", foreign_keys=[user_id])
    created_by = relationship("User", foreign_keys=[created_by_id])

    __table_args__ = (
        # Covers the branch report's per-member sums and monthly ranges (no table lookups).
        Index("ix_school_credit_entries_user_year", "user_id", "year", "created_at", "amount"),
        Index("uq_school_credit_entries_user_award", "user_id", "award_key", unique=True),
    )


class CreditRuleSet(db.Model):
    """The credit rules as admins last saved them; older rows are the history (latest id wins)."""

    __tablename__ = "school_credit_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
