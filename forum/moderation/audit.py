"""The moderation audit log: every moderator action, who did it, when and why.

Rows are only ever added (no service updates or deletes them); admins browse and export
them. Services call :func:`log` in the same transaction as the action, so an action that
rolls back leaves no entry and a committed action always has one.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from dangxiao.accounts.models import User
from dangxiao.exports import safe_cell
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.templating import localtime
from forum.models import Board
from forum.moderation.models import AuditEntry

#: Labels of the actions the forum writes (others are shown by their name).
ACTION_LABELS = {
    "approve": "通过",
    "edit_approve": "修改后通过",
    "reject": "驳回",
    "delete": "删除",
    "silence": "禁言",
    "unsilence": "解除禁言",
    "edit": "编辑",
    "pin": "置顶",
    "unpin": "取消置顶",
    "lock": "锁定",
    "unlock": "解锁",
    "move": "移动",
    "restore": "恢复",
    "board_update": "版块设置",
    "rule_add": "添加规则",
    "rule_update": "修改规则",
    "rule_import": "导入规则",
}
TARGET_LABELS = {
    "board": "版块",
    "post": "帖子",
    "topic": "主题",
    "user": "用户",
    "rule": "规则",
    "help": "求助",
    "live": "提问",
}
CSV_HEADERS = ("时间", "操作人", "操作", "对象", "版块", "摘要", "原因")


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


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def target_label(kind: str, target_id: int | None) -> str:
    name = TARGET_LABELS.get(kind, kind)
    return f"{name} #{target_id}" if target_id is not None else name


def entries_stmt(
    actor: Any,
    *,
    action: str | None = None,
    actor_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select:
    """``select(AuditEntry, actor name, board name)`` newest first; admins only.

    `since` is inclusive and `until` exclusive (aware datetimes; the page turns local dates
    into these bounds).
    """
    require(actor, "moderation.audit")
    conditions = []
    if action:
        conditions.append(AuditEntry.action == action)
    if actor_id:
        conditions.append(AuditEntry.actor_id == actor_id)
    if since is not None:
        conditions.append(AuditEntry.created_at >= since)
    if until is not None:
        conditions.append(AuditEntry.created_at < until)
    return (
        select(AuditEntry, User.display_name, Board.name)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .outerjoin(Board, Board.id == AuditEntry.board_id)
        .where(*conditions)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    )


def logged_actions() -> list[str]:
    """The actions present in the log (the filter offers these)."""
    return sorted(db.session.scalars(select(AuditEntry.action).distinct()))


def export_csv(
    actor: Any,
    *,
    action: str | None = None,
    actor_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """The filtered log as CSV text: UTF-8 BOM (Excel opens Chinese correctly), local times."""
    stmt = entries_stmt(actor, action=action, actor_id=actor_id, since=since, until=until)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    for entry, actor_name, board_name in db.session.execute(stmt.execution_options(yield_per=1000)):
        writer.writerow(
            [
                safe_cell(value)
                for value in (
                    localtime(entry.created_at, "%Y-%m-%d %H:%M:%S"),
                    actor_name or "系统",
                    action_label(entry.action),
                    target_label(entry.target_kind, entry.target_id),
                    board_name or "",
                    entry.summary,
                    entry.reason,
                )
            ]
        )
    return out.getvalue()
