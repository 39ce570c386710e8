"""Moderation tables: rules and the rule-set token, the review queue, the audit log, silences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
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


class ReviewItem(db.Model):
    """One entry of the review queue: something held (or flagged) waiting for a moderator.

    Generic over what is held: `kind` names a handler registered in ``queue`` (forum posts
    now; help requests and live questions later), `object_id` the row. `board_id` and
    `branch_id` (the author's branch) decide which moderators see it. `text` is the text
    as it was held and `matches` the rule matches on it, so the queue highlights the exact
    spans even if the object is edited later. At most one open item per object.
    """

    __tablename__ = "moderation_review_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int]
    reason: Mapped[str] = mapped_column(String(10))
    board_id: Mapped[int | None] = mapped_column(ForeignKey("forum_boards.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    matches: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (
        CheckConstraint("reason IN ('rule', 'board', 'flags', 'new_user')", name="reason"),
        CheckConstraint("state IN ('open', 'approved', 'rejected', 'deleted')", name="state"),
        Index("ix_moderation_review_items_state_created", "state", "created_at"),
        Index(
            "uq_moderation_review_items_open",
            "kind",
            "object_id",
            unique=True,
            sqlite_where=sql_text("state = 'open'"),
            postgresql_where=sql_text("state = 'open'"),
        ),
    )


class AuditEntry(db.Model):
    """Who did what to which object, when and why: append-only, browsed and exported by admins."""

    __tablename__ = "moderation_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(30), index=True)
    target_kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int | None]
    board_id: Mapped[int | None] = mapped_column(ForeignKey("forum_boards.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Silence(db.Model):
    """A member may not post until `until` (set from the review queue, lifted by clearing it)."""

    __tablename__ = "moderation_silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
