"""The moderation audit log: every moderator action, who did it, when and why.

Rows are only ever added (no service updates or deletes them); admins browse and export
them. Services call :func:`log` in the same transaction as the action, so an action that
rolls back leaves no entry and a committed action always has one.
"""

from __future__ import annotations

from typing import Any

from dangxiao.extensions import db
from forum.moderation.models import AuditEntry


def log(
    actor: Any,
    action: str,
    target_kind: str,
    target_id: int | None,
    *,
    board_id: int | None = None,
    summary: str = "",
    reason: str = "",
) -> AuditEntry:
    """Record one action (flushes). `actor` may be the CLI's SYSTEM (stored as no user)."""
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        action=action[:30],
        target_kind=target_kind[:20],
        target_id=target_id,
        board_id=board_id,
        summary=(summary or "")[:200],
        reason=(reason or "")[:200],
    )
    db.session.add(entry)
    db.session.flush()
    return entry
