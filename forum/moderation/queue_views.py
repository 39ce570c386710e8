"""The review queue and the audit log pages: thin wrappers over :mod:`forum.moderation.queue`
and :mod:`forum.moderation.audit`.

The queue is for anyone who moderates something: a board moderator need not hold the
版主 role, so the access row is LOGIN and the view asks ``forum.boards`` (403 otherwise);
which items a moderator sees and may decide is the services' business. Every decision runs
in one ``atomic()``: a refusal (already decided, no reason) is flashed and changes nothing,
and the moderator goes back to the page and filters they came from.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from dangxiao.access import LOGIN, role
from dangxiao.accounts.models import User
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.policy import can, require
from dangxiao.queries import id_arg
from dangxiao.security import is_safe_next
from dangxiao.templating import site_zone
from dangxiao.transactions import atomic
from forum.models import Board
from forum.moderation import audit, queue
from forum.moderation.models import ReviewItem

bp = Blueprint("moderation_queue", __name__, url_prefix="/moderation")
ADMIN = role("admin")
ACCESS = {"queue_page": LOGIN, "act": LOGIN, "audit_page": ADMIN, "audit_export": ADMIN}

PER_PAGE = 20
AUDIT_PER_PAGE = 50
SILENCE_DAYS = (1, 3, 7, 30)
DONE = {
    "approve": "已通过“{}”。",
    "edit": "已修改并通过“{}”。",
    "reject": "已驳回“{}”，作者会收到通知。",
    "delete": "已删除“{}”。",
    "silence": "已禁言“{}”的作者。",
}


def _page_number() -> int:
    raw = request.args.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 and int(raw) > 0 else 1


def _pages(total: int, per_page: int) -> tuple[int, int]:
    """(page, pages): a page past the end shows the last one."""
    pages = max(1, math.ceil(total / per_page))
    return min(_page_number(), pages), pages


def _kind_label(kind: str) -> str:
    try:
        return queue.handler_for(kind).label
    except LookupError:
        return kind


def _item_url(item: ReviewItem) -> str | None:
    try:
        url = queue.handler_for(item.kind).url(item)
    except LookupError:
        return None
    return url if is_safe_next(url) else None


def _editable(kind: str) -> bool:
    try:
        return queue.handler_for(kind).edit is not None
    except LookupError:
        return False


@bp.app_context_processor
def _queue_badge() -> dict[str, Any]:
    """``review_queue_badge()`` for the header: None for non-moderators, else the open count (once a request)."""

    def badge() -> int | None:
        if "review_queue_badge" not in g:
            g.review_queue_badge = queue.open_count(current_user) if can(current_user, "moderation.queue") else None
        return g.review_queue_badge

    return {"review_queue_badge": badge}


@bp.route("/queue/")
def queue_page():
    require(current_user, "moderation.queue", message="只有版主可以查看审核队列。")
    kinds = {kind: handler.label for kind, handler in queue.kinds().items()}
    kind = request.args.get("kind", "")
    kind = kind if kind in kinds else ""
    reason = request.args.get("reason", "")
    reason = reason if reason in queue.REASONS else ""
    board_id = id_arg(request.args.get("board"))
    stmt = queue.open_items_stmt(current_user, kind=kind or None, board_id=board_id, reason=reason or None)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page, pages = _pages(total, PER_PAGE)
    rows = db.session.execute(
        stmt.add_columns(User.display_name, Board.name)
        .outerjoin(User, User.id == ReviewItem.author_id)
        .outerjoin(Board, Board.id == ReviewItem.board_id)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    items = [
        {
            "item": item,
            "author": author,
            "board": board_name,
            "kind": _kind_label(item.kind),
            "reason": queue.REASONS.get(item.reason, item.reason),
            "text": queue.highlight(item.text or "", item.matches or []),
            "words": _matched_words(item.matches or []),
            "url": _item_url(item),
            "editable": _editable(item.kind),
        }
        for item, author, board_name in rows
    ]
    boards = queue.open_boards(current_user)
    if board_id and board_id not in {b for b, _ in boards}:
        name = db.session.scalar(select(Board.name).where(Board.id == board_id))
        if name is not None:
            boards.append((board_id, name))
    filters = {"kind": kind, "board": str(board_id) if board_id else "", "reason": reason}
    return render_template(
        "moderation/queue.html",
        items=items,
        total=total,
        page=page,
        pages=pages,
        kinds=kinds,
        boards=boards,
        reasons=queue.REASONS,
        reason_counts=queue.reason_counts(current_user, kind=kind or None, board_id=board_id),
        filters=filters,
        query={k: v for k, v in filters.items() if v},
        here=request.full_path.rstrip("?"),
        silence_days=SILENCE_DAYS,
    )


def _matched_words(matches: list) -> list[str]:
    """The rules that fired, each once, in order of appearance."""
    words: list[str] = []
    for m in matches:
        word = m.get("rule") if isinstance(m, dict) else None
        if isinstance(word, str) and word not in words:
            words.append(word)
    return words


def _days(raw: str) -> int:
    if raw.isascii() and raw.isdigit() and len(raw) <= 3 and int(raw) in SILENCE_DAYS:
        return int(raw)
    raise DomainError("请选择禁言天数。", "days_invalid", "days")


@bp.route("/queue/<int:item_id>/<any(approve, edit, reject, delete, silence):action>", methods=["POST"])
def act(item_id: int, action: str):
    """Decide one item, then back to the queue page (and filters) it was decided from."""
    require(current_user, "moderation.queue", message="只有版主可以处理审核队列。")
    form = request.form
    target = form.get("next", "")
    back = target if is_safe_next(target) else url_for("moderation_queue.queue_page")
    try:
        with atomic():
            if action == "approve":
                item = queue.approve(current_user, item_id)
            elif action == "edit":
                item = queue.edit_and_approve(current_user, item_id, form.get("text", ""))
            elif action == "reject":
                item = queue.reject(current_user, item_id, form.get("reason", ""))
            elif action == "delete":
                item = queue.delete(current_user, item_id, form.get("reason", ""))
            else:
                days = _days(form.get("days", ""))
                queue.silence_author(current_user, item_id, days, form.get("reason", ""))
                item = db.session.get(ReviewItem, item_id)
            summary = queue.describe(item)
    except Forbidden:
        raise  # a moderator acting outside their boards: the 403 page says why
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(DONE[action].format(summary), "success")
    return redirect(back)


# --- The audit log ----------------------------------------------------------------------


def _date_arg(name: str) -> tuple[str, date | None, bool]:
    """(raw value, parsed date, valid?) of a YYYY-MM-DD query argument."""
    raw = request.args.get(name, "").strip()[:10]
    if not raw:
        return "", None, True
    try:
        return raw, date.fromisoformat(raw), True
    except ValueError:
        return raw, None, False


def _audit_filters() -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Service keyword arguments, the form's values and error messages of the audit filters."""
    errors: list[str] = []
    action = request.args.get("action", "").strip()[:30]
    actor_id = id_arg(request.args.get("actor_id"))
    since_raw, since_day, ok_since = _date_arg("since")
    until_raw, until_day, ok_until = _date_arg("until")
    if not (ok_since and ok_until):
        errors.append("日期格式不正确，请按“年-月-日”填写。")
    zone = site_zone()
    since = datetime.combine(since_day, time.min, tzinfo=zone) if since_day else None
    until = datetime.combine(until_day + timedelta(days=1), time.min, tzinfo=zone) if until_day else None
    kwargs = {"action": action or None, "actor_id": actor_id, "since": since, "until": until}
    values = {
        "action": action,
        "actor_id": str(actor_id) if actor_id else "",
        "since": since_raw if since_day else "",
        "until": until_raw if until_day else "",
    }
    return kwargs, values, errors


@bp.route("/audit/")
def audit_page():
    kwargs, filters, errors = _audit_filters()
    stmt = audit.entries_stmt(current_user, **kwargs)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page, pages = _pages(total, AUDIT_PER_PAGE)
    rows = db.session.execute(stmt.limit(AUDIT_PER_PAGE).offset((page - 1) * AUDIT_PER_PAGE)).all()
    actor_name = None
    if kwargs["actor_id"]:
        actor_name = db.session.scalar(select(User.display_name).where(User.id == kwargs["actor_id"]))
    actions = audit.logged_actions()
    if filters["action"] and filters["action"] not in actions:
        actions.append(filters["action"])
    return render_template(
        "moderation/audit.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        filters=filters,
        query={k: v for k, v in filters.items() if v},
        errors=errors,
        actions=actions,
        action_label=audit.action_label,
        target_label=audit.target_label,
        actor_name=actor_name,
    )


@bp.route("/audit/export.csv")
def audit_export():
    """The filtered log as CSV (UTF-8 with BOM, so Excel shows the Chinese)."""
    kwargs, _filters, _errors = _audit_filters()
    body = audit.export_csv(current_user, **kwargs)
    response = Response(body.encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="moderation-audit.csv"'
    return response
