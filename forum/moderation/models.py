"""The moderation rules table and the rule-set token that tells processes to rebuild."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dangxiao.db_types import utcnow
from dangxiao.extensions import db


class ModerationRule(db.Model):
    """A word or phrase and what happens to text containing it.

    `pattern` is the word as the engine folds it (see ``normalise``): one rule per
    pattern, scope and action, so 刷单 and 刷單 are the same rule.
    """

    __tablename__ = "moderation_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(String(100))
    pattern: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(10))
    scope: Mapped[str] = mapped_column(String(10), default="all")
    category: Mapped[str] = mapped_column(String(50), default="")  # for "tag" rules
    enabled: Mapped[bool] = mapped_column(default=True, index=True)
    hits: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("pattern", "scope", "action", name="uq_moderation_rules_pattern_scope_action"),
        CheckConstraint("action IN ('block', 'review', 'censor', 'flag', 'tag', 'allow')", name="action"),
        CheckConstraint("scope IN ('all', 'forum', 'help', 'live')", name="scope"),
    )


class ModerationRuleSet(db.Model):
    """One row: a token replaced by every rule change, read by each check to spot stale caches.

    A fresh random token rather than a counter: a rolled-back change can never leave a
    process holding an engine under a value another change later commits.
    """

    __tablename__ = "moderation_rule_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), default="")
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
