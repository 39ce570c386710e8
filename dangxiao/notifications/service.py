"""notify(): a row in the surrounding transaction, a live push only after it commits.

A rolled-back change (an approval that failed half-way) leaves no notification and
pushes nothing. The push goes to the Socket.IO room of the recipient (``user:<id>``);
browsers that are not connected see the row on their next page (the header count).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for
from sqlalchemy import func, select, update

from dangxiao.db_types import utcnow
from dangxiao.errors import NotFound
from dangxiao.extensions import db, socketio
from dangxiao.notifications.models import Notification
from dangxiao.policy import require
from dangxiao.security import is_safe_next
from dangxiao.text.clean import clean_line
from dangxiao.transactions import after_commit

EVENT = "notification"
PAGE_SIZE = 50


def path_for(endpoint: str, **values: Any) -> str:
    """A site path for a notification's link; works in requests, CLI commands and tasks alike."""
    if has_request_context():
        return url_for(endpoint, **values)
    root = current_app.config.get("APPLICATION_ROOT") or "/"
    return current_app.url_map.bind("localhost", script_name=root).build(endpoint, values)


def room(user_id: int) -> str:
    return f"user:{user_id}"


def notify(user_id: int, kind: str, text: str, url: str | None = None) -> Notification:
    """Tell `user_id` something; `url` must be a path on this site (anything else is dropped)."""
    note = Notification(
        user_id=user_id,
        kind=kind[:40],
        text=clean_line(text, "text", "通知内容", 500),
        url=url if is_safe_next(url) else None,
    )
    db.session.add(note)
    db.session.flush()
    payload = {"id": note.id, "kind": note.kind, "text": note.text, "url": note.url}
    after_commit(lambda: push(user_id, payload))
    return note


def push(user_id: int, payload: dict[str, Any]) -> None:
    """Send to the user's connected browsers (every process, through the message queue if set)."""
    socketio.emit(EVENT, payload, to=room(user_id), namespace="/")


def unread_count(user_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def recent(user_id: int, limit: int = PAGE_SIZE) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def get(actor: Any, notification_id: int) -> Notification:
    note = db.session.get(Notification, notification_id)
    if note is None:
        raise NotFound("通知不存在。")
    require(actor, "notification.read", note)
    return note


def mark_read(actor: Any, notification_id: int) -> Notification:
    note = get(actor, notification_id)
    if note.read_at is None:
        note.read_at = utcnow()
        db.session.flush()
    return note


def mark_all_read(actor: Any) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
