"""Review-queue kinds "help" (a held request) and "help_msg" (a held message), registered on import.

The keyword engine's ``review`` verdict holds a request or message before any handler sees
it (forum.helpdesk.requests). Deciding moderators are those of the requester's branch
(``moderates(actor, None, requester_branch_id)``: there is no board). The queue has
already closed the item when these run; the state changes themselves live in
forum.helpdesk.requests next to the status machine they belong to.

No ``url``: the request page is private to the requester and its handlers, so the queue
shows the held text itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, Forbidden, NotFound
from dangxiao.extensions import db
from dangxiao.notifications.service import notify
from dangxiao.search.service import touch
from forum import limits
from forum.boards import moderates
from forum.helpdesk import regions, sla, steps
from forum.helpdesk.models import (
    HelpMessage,
    HelpRequest,
    MessageState,
    RequestStatus,
)
from forum.helpdesk.requests import clean_text, make_title
from forum.helpdesk.workflow import apply_message
from forum.moderation.models import ReviewItem
from forum.moderation.queue import KindHandler, register_kind


def _require_moderator(actor: Any, req: HelpRequest) -> None:
    if not moderates(actor, None, req.requester.branch_id if req.requester is not None else None):
        raise Forbidden("您不负责审核这条求助。")


def _request(actor: Any, item: ReviewItem) -> HelpRequest:
    req = db.session.get(HelpRequest, item.object_id)
    if req is None:
        raise NotFound("求助不存在或已被删除。")
    _require_moderator(actor, req)
    return req


def _message(actor: Any, item: ReviewItem) -> HelpMessage:
    message = db.session.get(HelpMessage, item.object_id)
    req = db.session.get(HelpRequest, message.request_id) if message is not None else None
    if message is None or req is None:
        raise NotFound("消息不存在或已被删除。")
    _require_moderator(actor, req)
    return message


# --- the decisions -----------------------------------------------------------------------------


def release(actor: Any, req: HelpRequest) -> HelpRequest:
    """A held request approved: handlers see it from now, the SLA starts now, they are told."""
    if not req.held:
        raise DomainError("该求助已不在审核中。", "request_changed")
    now = utcnow()
    ended = RequestStatus(req.status).ended  # withdrawn while held: just no longer held
    values: dict[str, Any] = {"held": False}
    if not ended:
        values["due_at"] = sla.due_at(now)
    steps.transition(req, list(RequestStatus), HelpRequest.held.is_(True), **values)
    touch("help", [req.id])
    steps.event(req, steps.actor_id(actor), "released", req.status, req.status)
    if not ended:
        steps.notify_handlers(
            req, f"新的求助 {steps.label(req)}（{req.category.label}，{regions.label(req.region_code)}）待受理。"
        )
        steps.notify_requester(req, f"您的求助 {steps.label(req)} 已通过审核，已转交处理。")
    return req


def refuse_held(actor: Any, req: HelpRequest, reason: str) -> HelpRequest:
    """A held request rejected (or deleted) in the queue: closed with the reason; it stays hidden."""
    if not req.held:
        raise DomainError("该求助已不在审核中。", "request_changed")
    before = RequestStatus(req.status)
    if not before.ended:
        steps.transition(req, [before], HelpRequest.held.is_(True), status=RequestStatus.closed, ended_at=utcnow())
    steps.event(req, steps.actor_id(actor), "rejected", before, RequestStatus.closed, note=reason)
    steps.notify_requester(req, f"您的求助 {steps.label(req)} 未通过审核，已关闭。原因：{reason}")
    return req


def edit_held(actor: Any, req: HelpRequest, text: str) -> HelpRequest:
    """A moderator rewrites a held description before approving it (no keyword scan: they decided)."""
    if not req.held:
        raise DomainError("该求助已不在审核中。", "request_changed")
    text = clean_text(text, "text", "求助内容")
    req.description, req.title, req.content_hash = text, make_title(text), limits.content_hash(text)
    steps.event(req, steps.actor_id(actor), "edited", req.status, req.status, note="审核时编辑")
    db.session.flush()
    return req


def _held_message(message: HelpMessage) -> None:
    if message.state != MessageState.held:
        raise DomainError("该消息已不在审核中。", "request_changed")


def _set_message_state(message: HelpMessage, state: MessageState) -> None:
    done = db.session.execute(
        update(HelpMessage)
        .where(HelpMessage.id == message.id, HelpMessage.state == MessageState.held)
        .values(state=state)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(message)
    if not done:
        raise DomainError("该消息已不在审核中。", "request_changed")


def publish_message(actor: Any, message: HelpMessage) -> HelpMessage:
    """A held message approved: shown, and it has the effect it would have had (answer, follow-up)."""
    _held_message(message)
    _set_message_state(message, MessageState.published)
    req = db.session.get(HelpRequest, message.request_id)
    if req is not None:
        apply_message(req, message)
    return message


def refuse_message(actor: Any, message: HelpMessage, reason: str) -> HelpMessage:
    _held_message(message)
    _set_message_state(message, MessageState.rejected)
    req = db.session.get(HelpRequest, message.request_id)
    if message.author_id is not None and req is not None:
        what = "答复" if message.from_handler else "补充说明"
        notify(
            message.author_id,
            steps.NOTIFY_KIND,
            f"您在求助 {steps.label(req)} 中的{what}未通过审核。原因：{reason}",
            steps.request_url(req.id),
        )
    return message


def edit_message(actor: Any, message: HelpMessage, text: str) -> HelpMessage:
    _held_message(message)
    label = "答复内容" if message.from_handler else "补充说明"
    message.body = clean_text(text, "text", label)
    db.session.flush()
    return message


REQUEST_HANDLER = KindHandler(
    label="求助",
    approve=lambda actor, item: release(actor, _request(actor, item)),
    reject=lambda actor, item, reason: refuse_held(actor, _request(actor, item), reason),
    delete=lambda actor, item, reason: refuse_held(actor, _request(actor, item), reason),
    edit=lambda actor, item, text: edit_held(actor, _request(actor, item), text),
)
MESSAGE_HANDLER = KindHandler(
    label="求助回复",
    approve=lambda actor, item: publish_message(actor, _message(actor, item)),
    reject=lambda actor, item, reason: refuse_message(actor, _message(actor, item), reason),
    delete=lambda actor, item, reason: refuse_message(actor, _message(actor, item), reason),
    edit=lambda actor, item, text: edit_message(actor, _message(actor, item), text),
)
register_kind("help", REQUEST_HANDLER)
register_kind("help_msg", MESSAGE_HANDLER)
