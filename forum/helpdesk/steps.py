"""Steps every help-desk service shares: history rows, conditional status changes, notices, who acts.

The status machine's rules are in forum.helpdesk.workflow; these are its parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, update

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.notifications.service import notify, path_for
from forum.helpdesk import handlers
from forum.helpdesk.models import (
    HelpEvent,
    HelpRequest,
    RequestStatus,
)

ENDED = (RequestStatus.resolved, RequestStatus.closed)
OPEN = (RequestStatus.pending, RequestStatus.in_progress, RequestStatus.answered)
ACTIONS = ("accept", "answer", "follow_up", "hand_over", "resolve", "close", "reopen", "rate")
TITLE_CHARS = 30
NOTIFY_KIND = "help"

ENDED_MESSAGE = "该求助已结束，如问题仍未解决请重新打开"
CHANGED_MESSAGE = "该求助的状态刚刚已被他人更改，请刷新页面后再试。"
HELD_MESSAGE = "该求助正在审核中，审核通过后才能继续操作。"
NOT_REQUESTER = "只有提出求助的党员本人可以进行此操作。"
NOT_HANDLER = "只有负责处理该求助的组织可以进行此操作。"


def cfg(name: str) -> int:
    return int(current_app.config[name])


# --- helpers ---------------------------------------------------------------------------------


def request_url(request_id: int) -> str:
    return path_for("helpdesk.show", request_id=request_id)


def label(req: HelpRequest) -> str:
    return f"#{req.id}「{req.title}」"


def notify_requester(req: HelpRequest, text: str) -> None:
    notify(req.requester_id, NOTIFY_KIND, text, request_url(req.id))


def notify_handlers(req: HelpRequest, text: str, exclude: int | None = None) -> None:
    """The current organisation's handlers; if it has none, the admins (nothing is left unread)."""
    ids = handlers.handler_ids(req.handling_branch_id) or handlers.handler_ids(None)
    for user_id in ids:
        if user_id != exclude:
            notify(user_id, NOTIFY_KIND, text, request_url(req.id))


def event(
    req: HelpRequest,
    actor_id: int | None,
    kind: str,
    from_status: Any = None,
    to_status: Any = None,
    *,
    from_branch_id: int | None = None,
    to_branch_id: int | None = None,
    note: str = "",
) -> HelpEvent:
    event = HelpEvent(
        request_id=req.id,
        actor_id=actor_id,
        kind=kind,
        from_status=str(from_status) if from_status is not None else None,
        to_status=str(to_status) if to_status is not None else None,
        from_branch_id=from_branch_id,
        to_branch_id=to_branch_id,
        note=(note or "")[:500],
    )
    db.session.add(event)
    return event


def transition(req: HelpRequest, expected: Iterable[RequestStatus], *where: ColumnElement[bool], **values: Any) -> None:
    """One conditional UPDATE of `req` from one of the `expected` statuses; the loser of a race is told."""
    values.setdefault("updated_at", utcnow())
    done = db.session.execute(
        update(HelpRequest)
        .where(HelpRequest.id == req.id, HelpRequest.status.in_(list(expected)), *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(req)
    if not done:
        raise DomainError(CHANGED_MESSAGE, "request_changed")


def actor_id(actor: Any) -> int | None:
    return getattr(actor, "id", None)


def as_handler(actor: Any, request_id: Any) -> HelpRequest:
    req = handlers.get_visible(actor, request_id)
    if not handlers.handles(actor, req):
        raise Forbidden(NOT_HANDLER)
    return req


def as_requester(actor: Any, request_id: Any) -> HelpRequest:
    req = handlers.get_visible(actor, request_id)
    if not handlers.is_requester(actor, req):
        raise Forbidden(NOT_REQUESTER)
    return req


def not_ended(req: HelpRequest) -> None:
    if RequestStatus(req.status).ended:
        raise DomainError(ENDED_MESSAGE, "request_ended")


def not_held(req: HelpRequest) -> None:
    if req.held:
        raise DomainError(HELD_MESSAGE, "request_held")
