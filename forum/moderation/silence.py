"""Silencing a member: no new posts, replies, requests or questions until a given time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from dangxiao.accounts.models import User
from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.text.clean import clean_line
from forum.moderation import audit
from forum.moderation.models import Silence

MAX_DAYS = 365


def silenced_until(user_id: int | None) -> datetime | None:
    """The end of the member's current silence, or None if they may post."""
    if user_id is None:
        return None
    until = db.session.scalar(
        select(func.max(Silence.until)).where(Silence.user_id == user_id, Silence.until > utcnow())
    )
    return aware(until)


def silence(actor: Any, user_id: int, days: int, reason: str, *, board_id: int | None = None) -> Silence:
    """Silence `user_id` for `days` days (1–365). The caller has checked the actor moderates them."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise DomainError(f"禁言天数须为 1–{MAX_DAYS} 天。", "days_invalid", "days")
    reason = clean_line(reason, "reason", "禁言原因", 200)
    if getattr(actor, "id", None) == user_id:
        raise DomainError("不能禁言自己。", "self_silence")
    user = db.session.get(User, user_id)
    if user is None:
        raise DomainError("用户不存在。", "not_found")
    row = Silence(
        user_id=user_id, until=utcnow() + timedelta(days=days), reason=reason, created_by_id=getattr(actor, "id", None)
    )
    db.session.add(row)
    db.session.flush()
    audit.log(
        actor,
        "silence",
        "user",
        user_id,
        board_id=board_id,
        summary=f"禁言“{user.display_name}” {days} 天",
        reason=reason,
    )
    return row


def lift(actor: Any, user_id: int) -> int:
    """End every current silence of `user_id` now; returns how many were ended."""
    now = utcnow()
    ended = db.session.execute(
        update(Silence).where(Silence.user_id == user_id, Silence.until > now).values(until=now)
    ).rowcount
    if ended:
        audit.log(actor, "unsilence", "user", user_id, summary="解除禁言")
    return ended
