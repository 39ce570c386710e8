"""流动党员之家 pages for members and handlers: lists, the request form, a request's page, actions.

Views only translate HTTP into the services (:mod:`forum.helpdesk.requests`, ``handlers``,
``attachments``), which decide everything. A request or attachment the visitor may not see
is a 404 whatever the reason, so its existence is not revealed; a refused action on a
visible request is flashed (JSON callers get the standard JSON error). Every page works
without JavaScript: static/js/helpdesk-form.js and helpdesk-answer.js only save typing.
"""

from __future__ import annotations

import math
import os
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import func, select

from dangxiao.access import LOGIN, PUBLIC
from dangxiao.errors import DomainError, NotFound, wants_json
from dangxiao.extensions import db
from dangxiao.policy import can
from dangxiao.queries import id_arg
from dangxiao.transactions import atomic
from forum.helpdesk import attachments, faq, handlers, regions, sla, workflow
from forum.helpdesk import requests as services
from forum.helpdesk.models import HelpAttachment, HelpCategory, HelpRequest, MessageState, Rating, RequestStatus

bp = Blueprint("helpdesk", __name__, url_prefix="/help")
ACCESS = {
    **{view: LOGIN for view in ("new", "show", "act", "attachment", "suggest")},
    "index": PUBLIC,  # visitors get the introduction and a login link, no request
    "regions": PUBLIC,  # the public 省/市/县 table, nothing private
}

TABS = {"mine": "我的求助", "todo": "待我处理", "all": "全部"}
FORM_FIELDS = ("category", "region", "description", "attachments")
# Field names the services may use for an upload refusal: shown next to the file input.
_UPLOAD_FIELDS = {"attachments", "attachment", "files", "file", "uploads"}
EVENT_LABELS = {
    "filed": "提交求助",
    "held": "待审核",
    "released": "审核通过",
    "rejected": "审核未通过",
    "accepted": "受理",
    "answered": "答复",
    "answer": "答复",
    "followed_up": "补充说明",
    "follow_up": "补充说明",
    "handover": "转办",
    "hand_over": "转办",
    "resolved": "确认已解决",
    "closed": "关闭",
    "reopened": "重新打开",
    "rated": "评价",
    "reminded": "逾期提醒",
    "edited": "审核时编辑",
    "routed": "分派",
}
SUGGEST_MAX_CHARS = 1000


def _actor() -> Any:
    return current_user._get_current_object()


def _faq_url() -> str:
    return url_for("help_faq.faq")


def _uploads(field: str = "attachments") -> list[tuple[str, bytes]]:
    """(filename, bytes) of the chosen files; one byte over the limit is read so the service refuses it."""
    limit = int(current_app.config.get("HELPDESK_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024))
    return [(f.filename or "", f.stream.read(limit + 1)) for f in request.files.getlist(field) if f and f.filename]


def _count(stmt) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


# --- lists -----------------------------------------------------------------------------------


@bp.get("/")
def index():
    actor = _actor()
    if not actor.is_authenticated:
        return render_template("helpdesk/index.html", visitor=True, faq_url=_faq_url())
    admin = handlers.is_admin(actor)
    tabs = {"mine": TABS["mine"]}
    if admin or handlers.is_handler_anywhere(actor):
        tabs["todo"] = TABS["todo"]
    if admin:
        tabs["all"] = TABS["all"]
    tab = request.args.get("tab", "")
    if tab not in tabs:
        tab = "todo" if "todo" in tabs else "mine"
    filters = {"status": "", "category": "", "overdue": ""}
    if tab != "mine":
        status = request.args.get("status", "")
        category = request.args.get("category", "")
        filters = {
            "status": status if status in {s.value for s in RequestStatus} else "",
            "category": category if category in {c.value for c in HelpCategory} else "",
            "overdue": "1" if request.args.get("overdue") == "1" else "",
        }
    query_args = dict(
        scope=tab,
        status=filters["status"] or None,
        category=filters["category"] or None,
        overdue=bool(filters["overdue"]),
    )
    stmt = handlers.visible_stmt(actor, **query_args)
    total = _count(stmt)
    overdue_count = None
    if tab != "mine":
        overdue_count = (
            total if filters["overdue"] else _count(handlers.visible_stmt(actor, **{**query_args, "overdue": True}))
        )
    size = int(current_app.config.get("HELPDESK_PAGE_SIZE", 20))
    pages = max(1, math.ceil(total / size))
    page = min(id_arg(request.args.get("page")) or 1, pages)
    rows = list(db.session.scalars(stmt.limit(size).offset((page - 1) * size)))
    query = {key: value for key, value in {"tab": tab, **filters}.items() if value}
    return render_template(
        "helpdesk/index.html",
        visitor=False,
        tabs=tabs,
        tab=tab,
        rows=rows,
        filters=filters,
        total=total,
        overdue_count=overdue_count,
        page=page,
        pages=pages,
        query=query,
        is_overdue=sla.is_overdue,
        region_label=regions.label,
        statuses=RequestStatus.choices(),
        categories=HelpCategory.choices(),
        faq_url=_faq_url(),
    )


# --- filing ------------------------------------------------------------------------------------


def _chosen_region(values: list[str]) -> str:
    """The finest code of the 省/市/县 selects (all named "region"), stopping where a lower
    level does not belong to the one above (a stale choice after changing the province
    without JavaScript): the member is then asked for the next level instead of mis-filed."""
    code = ""
    for raw in values:
        value = (raw or "").strip()
        if not value:
            break
        if code:
            region = regions.get(value)
            if region is None or region.parent != code:
                break
        code = value
    return code


def _picker(code: str) -> list[dict[str, Any]]:
    """The three picker levels with their options and the selected code, filled from `code`."""
    chain = regions.path(code) if code else []
    levels: list[dict[str, Any]] = []
    for depth, (key, label, blank) in enumerate(
        (
            ("province", "省（自治区、直辖市）", "请选择省份"),
            ("city", "市（地区、州）", "请选择城市"),
            ("county", "县（区）", "请选择县（区）"),
        )
    ):
        if depth == 0:
            options = regions.provinces()
        elif len(chain) >= depth:
            options = regions.children(chain[depth - 1].code)
        else:
            options = []
        selected = chain[depth].code if len(chain) > depth else ""
        levels.append({"key": key, "label": label, "blank": blank, "options": options, "selected": selected})
    return levels


def _new_page(form: dict[str, str], error: DomainError | None = None, status: int = 200):
    actor = _actor()
    field = None
    if error is not None:
        field = (
            error.field if error.field in FORM_FIELDS else ("attachments" if error.field in _UPLOAD_FIELDS else None)
        )
    home = actor.branch.full_name if getattr(actor, "branch", None) is not None else None
    return (
        render_template(
            "helpdesk/new.html",
            form=form,
            error=error,
            error_field=field,
            levels=_picker(form.get("region", "")),
            categories=HelpCategory.choices(),
            home_branch=home,
            may_file=can(actor, "help.file"),
            faq_url=_faq_url(),
            max_chars=current_app.config.get("HELPDESK_MAX_CHARS", 3000),
            max_files=current_app.config.get("HELPDESK_MAX_ATTACHMENTS", 3),
        ),
        status,
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = {"category": "", "region": "", "description": ""}
    if request.method == "GET":
        return _new_page(form)
    form = {
        "category": request.form.get("category", ""),
        "region": _chosen_region(request.form.getlist("region")),
        "description": request.form.get("description", ""),
    }
    uploads = _uploads()
    try:
        with atomic():
            req = services.file_request(_actor(), form["category"], form["region"], form["description"], uploads)
            request_id, held = req.id, req.held
    except DomainError as error:
        if wants_json():
            raise
        return _new_page(form, error, error.status)
    if held:
        flash("求助已提交，内容需经审核后才会转给处理人员，请耐心等待。", "info")
    else:
        flash("求助已提交，处理人员会尽快答复，答复时会通知您。", "success")
    return redirect(url_for("helpdesk.show", request_id=request_id))


# --- one request ---------------------------------------------------------------------------------


def _show_page(req: HelpRequest, *, form: dict[str, str] | None = None, error: DomainError | None = None, status=200):
    from forum.helpdesk import requests as services

    actor = _actor()
    actions = workflow.allowed_actions(actor, req)
    messages = services.messages_for(actor, req)
    shown_ids = {m.id for m in messages}
    files: dict[int | None, list[HelpAttachment]] = {}
    for item in attachments.for_request(req):  # a held message's files go with the message
        if item.message_id is None or item.message_id in shown_ids:
            files.setdefault(item.message_id, []).append(item)
    templates = []
    if "answer" in actions:
        templates = faq.for_handlers(req.category.value)
    html = render_template(
        "helpdesk/show.html",
        req=req,
        actions=actions,
        messages=messages,
        files=files,
        events=services.events_for(req),
        templates=templates,
        branches=handlers.handling_branches() if "hand_over" in actions else [],
        overdue=sla.is_overdue(req),
        is_requester=req.requester_id == actor.id,
        region_label=regions.label(req.region_code),
        statuses={s.value: s.label for s in RequestStatus},
        event_labels=EVENT_LABELS,
        ratings=Rating.choices(),
        held_state=MessageState.held,
        form=form or {},
        error=error,
        max_chars=current_app.config.get("HELPDESK_MAX_CHARS", 3000),
    )
    return html, status


@bp.get("/r/<int:request_id>")
def show(request_id: int):
    return _show_page(handlers.get_visible(_actor(), request_id))


def _answer(actor: Any, request_id: int) -> tuple[Any, str]:
    body = request.form.get("body", "")
    template_id = id_arg(request.form.get("template_id"))
    if template_id is not None and not body.strip():
        # Without JavaScript the chosen template is sent as it is.
        try:
            body = faq.get_template(template_id).body
        except NotFound:
            raise DomainError("所选的常见回答不存在，请重新选择。", "template_invalid", "template_id") from None
    message = workflow.answer(actor, request_id, body, _uploads(), template_id=template_id)
    held = message.state == MessageState.held
    return message, ("答复已提交，需经审核后对方才能看到。" if held else "答复已发送，已通知求助人。")


def _follow_up(actor: Any, request_id: int) -> tuple[Any, str]:
    message = workflow.follow_up(actor, request_id, request.form.get("body", ""), _uploads())
    held = message.state == MessageState.held
    return message, ("补充说明已提交，需经审核后处理人员才能看到。" if held else "补充说明已提交。")


def _hand_over(actor: Any, request_id: int) -> tuple[Any, str]:
    branch_id = id_arg(request.form.get("branch_id"))
    if branch_id is None:
        raise DomainError("请选择要转办的组织。", "branch_required", "branch_id")
    return workflow.hand_over(actor, request_id, branch_id, request.form.get("note", "")), "已转办。"


def _simple(name: str, message: str, *fields: str):
    def run(actor: Any, request_id: int) -> tuple[Any, str]:
        values = [request.form.get(f, "") for f in fields]
        return getattr(workflow, name)(actor, request_id, *values), message

    return run


ACTIONS = {
    "accept": _simple("accept", "已受理，请尽快答复。"),
    "answer": _answer,
    "follow_up": _follow_up,
    "hand_over": _hand_over,
    "resolve": _simple("resolve", "已确认问题解决，感谢您的反馈。"),
    "close": _simple("close", "求助已关闭。", "note"),
    "reopen": _simple("reopen", "求助已重新打开，处理人员会再次跟进。", "note"),
    "rate": _simple("rate", "感谢您的评价。", "rating", "comment"),
}
_TEXT_ACTIONS = {"answer", "follow_up"}


@bp.post("/r/<int:request_id>/<action>")
def act(request_id: int, action: str):
    if action not in ACTIONS:
        raise NotFound("页面不存在。")
    actor = _actor()
    back = url_for("helpdesk.show", request_id=request_id)
    try:
        with atomic():
            _result, message = ACTIONS[action](actor, request_id)
            still_visible = handlers.may_view(actor, db.session.get(HelpRequest, request_id))
    except NotFound:
        raise
    except DomainError as error:
        if wants_json():
            raise
        if action in _TEXT_ACTIONS:  # keep what was typed next to the refusal
            req = handlers.get_visible(actor, request_id)
            form = {
                "action": action,
                "body": request.form.get("body", ""),
                "template_id": request.form.get("template_id", ""),
            }
            return _show_page(req, form=form, error=error, status=error.status)
        flash(error.message, "error")
        return redirect(back)
    if wants_json():
        return jsonify(ok=True, message=message, url=back if still_visible else url_for("helpdesk.index"))
    flash(message, "success")
    return redirect(back if still_visible else url_for("helpdesk.index"))


@bp.get("/r/<int:request_id>/files/<int:attachment_id>")
def attachment(request_id: int, attachment_id: int):
    """An attachment for those who may see its request: PDFs download, images open; never cached shared."""

    row, path = attachments.open_for(_actor(), request_id, attachment_id)
    if not os.path.isfile(path):
        raise NotFound("附件文件已丢失，请联系管理员。")
    response = send_file(
        path,
        mimetype=row.mimetype,
        as_attachment=row.mimetype == "application/pdf",
        download_name=row.filename or f"attachment-{row.id}",
        max_age=0,
        conditional=True,
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- JSON for the form's scripts -----------------------------------------------------------------


@bp.get("/suggest")
def suggest():
    """Category (tag rules), places named and FAQ entries for the text being typed."""
    text = request.args.get("text", "")[:SUGGEST_MAX_CHARS]
    found = services.suggest(text) if text.strip() else {}
    base = _faq_url()
    entries = faq.suggest(text) if text.strip() else []
    response = jsonify(
        category=found.get("category"),
        category_label=found.get("category_label"),
        regions=[{"code": r["code"], "label": r["label"]} for r in found.get("regions") or []],
        faq=[{"id": t.id, "title": t.title, "url": f"{base}#faq-{t.id}"} for t in entries],
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/regions", endpoint="regions", defaults={"code": None})
@bp.get("/regions/<code>", endpoint="regions")
def region_children(code: str | None):
    """The picker's next level: provinces, or the children of `code`."""
    if code is None:
        items = regions.provinces()
    else:
        if regions.get(code) is None:
            response = jsonify(error={"code": "not_found", "message": "所选地区不存在。"})
            response.status_code = 404
            return response
        items = regions.children(code)
    response = jsonify([{"code": r.code, "name": r.name, "leaf": r.leaf} for r in items])
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
