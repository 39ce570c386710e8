"""The status machine after filing: accept, answer, follow up, hand over, resolve, close, reopen, rate,
and the overdue reminders (services: actor first, flush only).

Status: 待受理 pending → 处理中 in_progress (a handler accepts, or the requester follows up
after an answer) → 已答复 answered (any handler answer) → 已解决 resolved (the requester
confirms) / 已关闭 closed (the requester withdraws, or a handler closes with a note); the
requester may reopen within HELPDESK_REOPEN_DAYS of the end. Every change is one
HelpEvent. Status changes are conditional UPDATEs (``WHERE status = <what the actor saw>``):
of two handlers accepting at once one wins, the other gets "request_changed". Answers only
require the request not to have ended meanwhile, so two answers never cancel each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from dangxiao.accounts.models import Branch
from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.templating import localtime
from dangxiao.text.clean import clean_line
from forum import limits
from forum.helpdesk import attachments, handlers, sla, steps
from forum.helpdesk.models import (
    HelpMessage,
    HelpRequest,
    HelpTemplate,
    MessageState,
    Rating,
    RequestStatus,
)
from forum.helpdesk.requests import clean_text, screen
from forum.moderation import queue

# --- handling --------------------------------------------------------------------------------


def accept(actor: Any, request_id: Any) -> HelpRequest:
    """A handler takes the request on (待受理 → 处理中); of two accepting at once, one wins."""
    req = steps.as_handler(actor, request_id)
    steps.not_ended(req)
    if req.status != RequestStatus.pending:
        raise DomainError(steps.CHANGED_MESSAGE, "request_changed")
    steps.transition(req, [RequestStatus.pending], status=RequestStatus.in_progress)
    steps.event(req, steps.actor_id(actor), "accepted", RequestStatus.pending, RequestStatus.in_progress)
    steps.notify_requester(req, f"您的求助 {steps.label(req)} 已受理，正在处理中。")
    return req


def _check_message_rate(actor: Any) -> None:
    limit = steps.cfg("HELPDESK_MESSAGES_PER_MINUTE")
    used = db.session.scalar(
        select(func.count(HelpMessage.id)).where(
            HelpMessage.author_id == actor.id, HelpMessage.created_at > utcnow() - timedelta(minutes=1)
        )
    )
    if (used or 0) >= limit:
        raise limits.RateLimited(f"发送过于频繁：每分钟最多发送 {limit} 条消息，请稍后再试。")


def _template(template_id: Any) -> HelpTemplate | None:
    """The answer template used (its `uses` counter grows by one, in the UPDATE itself)."""
    if template_id in (None, ""):
        return None
    try:
        key = int(template_id)
    except (TypeError, ValueError):
        key = 0
    template = db.session.get(HelpTemplate, key) if 0 < key < 2**63 else None
    if template is None:
        raise DomainError("所选答复模板不存在。", "template_invalid", "template_id")
    db.session.execute(
        update(HelpTemplate)
        .where(HelpTemplate.id == template.id)
        .values(uses=HelpTemplate.uses + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(template, ["uses"])
    return template


def _add_message(
    actor: Any, req: HelpRequest, body: Any, uploads: Iterable, *, from_handler: bool, template_id: Any = None
) -> HelpMessage:
    label = "答复内容" if from_handler else "补充说明"
    text = clean_text(body, "body", label)
    files = attachments.checked(uploads)
    _check_message_rate(actor)
    template = _template(template_id) if from_handler else None
    text, verdict = screen(text, "body")
    held = verdict.action == "review"
    message = HelpMessage(
        request_id=req.id,
        author_id=actor.id,
        from_handler=from_handler,
        body=text,
        state=MessageState.held if held else MessageState.published,
        template_id=template.id if template is not None else None,
        created_at=utcnow(),
    )
    db.session.add(message)
    db.session.flush()
    attachments.store(actor, req, files, message)
    if held:
        queue.enqueue(
            "help_msg",
            message.id,
            "rule",
            author_id=actor.id,
            branch_id=req.requester.branch_id,
            board_id=None,
            title=f"求助 {steps.label(req)} 的{label}",
            text=text,
            matches=verdict.as_dict()["matches"],
        )
    return message


def answer(actor: Any, request_id: Any, body: str, uploads: Iterable = (), template_id: Any = None) -> HelpMessage:
    """A handler's answer: 已答复, the first answer time kept once, the requester told (unless held)."""
    req = steps.as_handler(actor, request_id)
    steps.not_ended(req)
    message = _add_message(actor, req, body, uploads, from_handler=True, template_id=template_id)
    if message.state == MessageState.published:
        apply_message(req, message)
    return message


def follow_up(actor: Any, request_id: Any, body: str, uploads: Iterable = ()) -> HelpMessage:
    """The requester adds to the request; after an answer it goes back to 处理中 and handlers are told."""
    req = steps.as_requester(actor, request_id)
    steps.not_held(req)
    steps.not_ended(req)
    message = _add_message(actor, req, body, uploads, from_handler=False)
    if message.state == MessageState.published:
        apply_message(req, message)
    return message


def apply_message(req: HelpRequest, message: HelpMessage) -> None:
    """What a published message does to its request (at once, or when the review queue approves it).

    A message approved after its request ended changes nothing but is shown.
    """
    if RequestStatus(req.status).ended:
        return
    now = utcnow()
    before = RequestStatus(req.status)
    if message.from_handler:
        steps.transition(
            req,
            steps.OPEN,
            status=RequestStatus.answered,
            answered_at=now,
            first_answer_at=func.coalesce(HelpRequest.first_answer_at, now),
            updated_at=now,
        )
        steps.event(req, message.author_id, "answered", before, RequestStatus.answered)
        steps.notify_requester(req, f"您的求助 {steps.label(req)} 有了新的答复。")
        return
    after = RequestStatus.in_progress if before == RequestStatus.answered else before
    if after == before:  # only "not ended meanwhile" matters: a concurrent accept must not lose the message
        steps.transition(req, steps.OPEN, updated_at=now)
    else:
        steps.transition(req, [before], status=after, updated_at=now)
    steps.event(req, message.author_id, "follow_up", before, after)
    steps.notify_handlers(req, f"求助 {steps.label(req)} 的提问人补充了说明。")


def hand_over(actor: Any, request_id: Any, branch_id: Any, note: str) -> HelpRequest:
    """Send the request to another organisation with a note; its handlers are told, the old ones lose it.

    Not yet answered, it waits to be accepted again (待受理); an answered one stays 已答复.
    The SLA deadline stays: it is the requester's wait, not the organisation's.
    """
    req = steps.as_handler(actor, request_id)
    steps.not_ended(req)
    note = clean_line(note, "note", "转交说明", 500)
    try:
        key = int(branch_id)
    except (TypeError, ValueError):
        key = 0
    target = db.session.get(Branch, key) if 0 < key < 2**63 else None
    if target is None:
        raise DomainError("请选择要转交的组织。", "branch_invalid", "branch_id")
    old_branch = req.handling_branch_id
    if target.id == old_branch:
        raise DomainError("该求助已由这个组织处理，请选择其他组织。", "same_branch", "branch_id")
    before = RequestStatus(req.status)
    after = RequestStatus.answered if before == RequestStatus.answered else RequestStatus.pending
    same_branch = (
        HelpRequest.handling_branch_id.is_(None) if old_branch is None else HelpRequest.handling_branch_id == old_branch
    )
    steps.transition(req, [before], same_branch, status=after, handling_branch_id=target.id, reminded_at=None)
    steps.event(
        req,
        steps.actor_id(actor),
        "handover",
        before,
        after,
        from_branch_id=old_branch,
        to_branch_id=target.id,
        note=note,
    )
    steps.notify_handlers(req, f"求助 {steps.label(req)} 已转交给本组织处理。转交说明：{note}")
    steps.notify_requester(req, f"您的求助 {steps.label(req)} 已转交给“{target.name}”处理。")
    return req


def resolve(actor: Any, request_id: Any) -> HelpRequest:
    """The requester confirms the answer solved it (已解决)."""
    req = steps.as_requester(actor, request_id)
    steps.not_held(req)
    steps.not_ended(req)
    if req.first_answer_at is None:
        raise DomainError("还没有收到答复，无法确认解决；如不再需要帮助，可以关闭求助。", "not_answered")
    before = RequestStatus(req.status)
    steps.transition(req, [before], status=RequestStatus.resolved, ended_at=utcnow())
    steps.event(req, steps.actor_id(actor), "resolved", before, RequestStatus.resolved)
    steps.notify_handlers(req, f"求助 {steps.label(req)} 的提问人已确认问题解决。")
    return req


def close(actor: Any, request_id: Any, note: str = "") -> HelpRequest:
    """The requester withdraws (note optional), or a handler closes with a note the requester reads."""
    req = handlers.get_visible(actor, request_id)
    by_requester = handlers.is_requester(actor, req)
    if not by_requester and not handlers.handles(actor, req):
        raise Forbidden(steps.NOT_HANDLER)
    steps.not_ended(req)
    note = clean_line(note, "note", "关闭说明", 500, required=not by_requester)
    before = RequestStatus(req.status)
    steps.transition(req, [before], status=RequestStatus.closed, ended_at=utcnow())
    steps.event(req, steps.actor_id(actor), "closed", before, RequestStatus.closed, note=note)
    if by_requester:
        if not req.held:
            steps.notify_handlers(req, f"求助 {steps.label(req)} 已被提问人撤回。")
    else:
        steps.notify_requester(req, f"您的求助 {steps.label(req)} 已被关闭。说明：{note}")
    return req


def reopen(actor: Any, request_id: Any, note: str = "") -> HelpRequest:
    """The requester reopens an ended request within HELPDESK_REOPEN_DAYS: 待受理 again, handlers told."""
    req = steps.as_requester(actor, request_id)
    if not RequestStatus(req.status).ended:
        raise DomainError("该求助尚未结束，无需重新打开。", "request_not_ended")
    if req.held:
        raise DomainError("该求助未通过审核，不能重新打开，请修改后重新提交。", "request_rejected")
    note = clean_line(note, "note", "重新打开的原因", 500, required=False)
    days = steps.cfg("HELPDESK_REOPEN_DAYS")
    ended = aware(req.ended_at)
    if ended is not None and ended + timedelta(days=days) < utcnow():
        raise DomainError(f"该求助结束已超过 {days} 天，不能重新打开，请重新提交求助。", "reopen_expired")
    before = RequestStatus(req.status)
    steps.transition(
        req,
        [before],
        status=RequestStatus.pending,
        ended_at=None,
        reminded_at=None,
        reopen_count=HelpRequest.reopen_count + 1,
    )
    steps.event(req, steps.actor_id(actor), "reopened", before, RequestStatus.pending, note=note)
    steps.notify_handlers(req, f"求助 {steps.label(req)} 已被提问人重新打开。" + (f"原因：{note}" if note else ""))
    return req


def rate(actor: Any, request_id: Any, rating: str, comment: str = "") -> HelpRequest:
    """The requester rates the answers (满意/不满意, optional comment); they may change it later."""
    req = steps.as_requester(actor, request_id)
    steps.not_held(req)
    if req.first_answer_at is None:
        raise DomainError("收到答复后才能评价。", "not_answered")
    try:
        value = Rating(rating)
    except ValueError:
        raise DomainError("请选择“满意”或“不满意”。", "rating_invalid", "rating") from None
    comment = clean_line(comment, "comment", "评价说明", 200, required=False)
    req.rating, req.rating_comment, req.rated_at = value, comment, utcnow()
    steps.event(req, steps.actor_id(actor), "rated", note=f"{value.label} {comment}".strip())
    db.session.flush()
    return req


def allowed_actions(actor: Any, req: HelpRequest) -> set[str]:
    """Which action buttons `actor` gets on `req` (the services decide again on submit)."""
    out: set[str] = set()
    status = RequestStatus(req.status)
    answered = req.first_answer_at is not None
    if handlers.is_requester(actor, req):
        if req.held:
            if not status.ended:
                out.add("close")
        elif status.ended:
            ended = aware(req.ended_at)
            if ended is None or ended + timedelta(days=steps.cfg("HELPDESK_REOPEN_DAYS")) >= utcnow():
                out.add("reopen")
        else:
            out |= {"follow_up", "close"}
            if answered:
                out.add("resolve")
        if answered and not req.held:
            out.add("rate")
    if handlers.handles(actor, req) and not status.ended:
        out |= {"answer", "hand_over", "close"}
        if status == RequestStatus.pending:
            out.add("accept")
    return out


# --- overdue reminders -----------------------------------------------------------------------


def remind_overdue(now: datetime | None = None) -> int:
    """Tell the handlers of each overdue request once; returns how many requests were reminded.

    Each request is claimed by its own conditional UPDATE (``reminded_at IS NULL``): two runs
    at once, in two processes, never remind the same request twice.
    """
    now = now or utcnow()
    ids = list(
        db.session.scalars(
            select(HelpRequest.id)
            .where(sla.overdue_clause(now), HelpRequest.reminded_at.is_(None))
            .order_by(HelpRequest.id)
        )
    )
    reminded = 0
    for request_id in ids:
        claimed = db.session.execute(
            update(HelpRequest)
            .where(HelpRequest.id == request_id, HelpRequest.reminded_at.is_(None), sla.overdue_clause(now))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            continue
        req = db.session.get(HelpRequest, request_id)
        db.session.refresh(req)
        steps.event(req, None, "reminded", req.status, req.status)
        steps.notify_handlers(req, f"求助 {steps.label(req)} 已超过答复期限（{localtime(req.due_at)}），请尽快答复。")
        reminded += 1
    db.session.flush()
    return reminded
