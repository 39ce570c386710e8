"""Moderators' rule pages: list, add, enable/disable, import/export word lists, try a text.

Thin wrappers over :mod:`forum.moderation.rules`; every change runs in one ``atomic()``
so a refused change (a DomainError) leaves nothing stored, and is told as a flash message.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from dangxiao.access import role
from dangxiao.accounts.models import User
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.queries import get_or_404
from dangxiao.security import is_safe_next
from dangxiao.text.clean import clean_block, clean_line, strip_invisible
from dangxiao.transactions import atomic
from forum.moderation import rules
from forum.moderation.engine import ACTIONS, SCOPES
from forum.moderation.models import ModerationRule
from forum.moderation.queue import pieces
from forum.moderation.rules import ACTION_LABELS, SCOPE_LABELS

bp = Blueprint("moderation_admin", __name__, url_prefix="/moderation/rules")
MODERATOR = role("moderator")  # admins pass by implication
ACCESS = {view: MODERATOR for view in ("index", "add", "edit", "toggle", "import_list", "export", "try_text")}

PER_PAGE = 50
MAX_UPLOAD = 2 * 1024 * 1024
MAX_TRY = 10_000
VERDICT_LABELS = {**ACTION_LABELS, "allow": "未命中，放行"}


def _arg(name: str, allowed: tuple[str, ...]) -> str:
    value = request.args.get(name, "")
    return value if value in allowed else ""


def _page_number() -> int:
    raw = request.args.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 and int(raw) > 0 else 1


def _list_page(**extra: Any):
    """The rule list with the filters of the query string (newest first, 50 a page)."""
    action = _arg("action", ACTIONS)
    scope = _arg("scope", SCOPES)
    enabled = _arg("enabled", ("1", "0"))
    q = strip_invisible(request.args.get("q", "")).strip()[:100]
    conditions = []
    if action:
        conditions.append(ModerationRule.action == action)
    if scope:
        conditions.append(ModerationRule.scope == scope)
    if enabled:
        conditions.append(ModerationRule.enabled.is_(enabled == "1"))
    if q:
        conditions.append(ModerationRule.word.contains(q, autoescape=True))
    total = db.session.scalar(select(func.count(ModerationRule.id)).where(*conditions)) or 0
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(_page_number(), pages)
    rows = db.session.execute(
        select(ModerationRule, User.display_name)
        .outerjoin(User, User.id == ModerationRule.created_by_id)
        .where(*conditions)
        .order_by(ModerationRule.created_at.desc(), ModerationRule.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    filters = {"action": action, "scope": scope, "enabled": enabled, "q": q}
    return render_template(
        "moderation/rules.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        filters=filters,
        query={k: v for k, v in filters.items() if v},
        actions=ACTIONS,
        scopes=SCOPES,
        action_labels=ACTION_LABELS,
        verdict_labels=VERDICT_LABELS,
        scope_labels=SCOPE_LABELS,
        **extra,
    )


def _back():
    """Back to the rule list the moderator acted from (its filters and page), else the plain list."""
    target = request.values.get("next", "")
    index = url_for("moderation_admin.index")
    if is_safe_next(target) and urlsplit(target).path == index:
        return redirect(target)
    return redirect(index)


def _category() -> str:
    """The category field, cleaned like any one-line field (no NUL or invisible characters)."""
    return clean_line(request.form.get("category", ""), "category", "类别", 50, required=False)


@bp.route("/")
def index():
    return _list_page()


@bp.route("/try", methods=["POST"])
def try_text():
    """Show the verdict on a sample text; hits are not counted and nothing is stored."""
    raw = request.form.get("text", "")
    scope = request.form.get("scope", "all")
    if scope not in SCOPES:
        flash("未知的适用范围。", "error")
        return _back()
    text = raw.replace("\r\n", "\n").replace("\x00", "")[:MAX_TRY]
    try:
        clean_block(text, "text", "试一试的文字", MAX_TRY)  # refuses an empty (or only invisible) text
    except DomainError as error:
        flash(error.message, "error")
        return _back()
    verdict = rules.check(text, scope)  # the original text: spans point into what was typed
    return _list_page(trial=verdict, trial_pieces=pieces(verdict.text, verdict.matches), trial_scope=scope)


@bp.route("/add", methods=["POST"])
def add():
    form = request.form
    try:
        with atomic():
            rule = rules.add_rule(
                current_user,
                form.get("word", ""),
                form.get("action", ""),
                form.get("scope", "all"),
                _category(),
            )
            word = rule.word
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"已添加规则“{word}”。", "success")
    return _back()


@bp.route("/<int:rule_id>/edit", methods=["GET", "POST"])
def edit(rule_id: int):
    """Change a rule's word, action, scope or category; errors keep what was typed."""
    rule = get_or_404(ModerationRule, rule_id, "规则不存在。")
    form = {"word": rule.word, "action": rule.action, "scope": rule.scope, "category": rule.category}
    error = None
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in form}
        try:
            with atomic():
                changed = rules.update_rule(
                    current_user,
                    rule_id,
                    word=form["word"],
                    action=form["action"],
                    scope=form["scope"],
                    category=_category(),
                )
                word = changed.word
        except DomainError as failure:
            error = failure.message
        else:
            flash(f"已修改规则“{word}”。", "success")
            return _back()
    return render_template(
        "moderation/rule_edit.html",
        rule=rule,
        form=form,
        error=error,
        actions=ACTIONS,
        scopes=SCOPES,
        action_labels=ACTION_LABELS,
        scope_labels=SCOPE_LABELS,
    ), (400 if error else 200)


@bp.route("/<int:rule_id>/toggle", methods=["POST"])
def toggle(rule_id: int):
    """Set the enabled flag to the submitted value (a resubmitted form changes nothing more)."""
    wanted = request.form.get("enabled", "")
    if wanted not in ("1", "0"):
        flash("提交的内容不正确，请重试。", "error")
        return _back()
    try:
        with atomic():
            rule = get_or_404(ModerationRule, rule_id, "规则不存在。")
            rule = rules.update_rule(current_user, rule.id, enabled=wanted == "1")
            word = rule.word
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"已{'启用' if wanted == '1' else '停用'}规则“{word}”。", "success")
    return _back()


def _upload() -> tuple[bytes, str]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise DomainError("请选择要导入的词表文件。", "file_empty", "file")
    filename = upload.filename
    if "." in filename and not filename.lower().endswith((".txt", ".csv")):
        raise DomainError("只能导入 TXT 或 CSV 词表。", "file_type", "file")
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise DomainError("词表文件不能超过 2 MB。", "file_large", "file")
    if b"\x00" in data:
        raise DomainError("文件不是文本文件：请导入 TXT 或 CSV 词表。", "file_binary", "file")
    return data, filename


@bp.route("/import", methods=["POST"])
def import_list():
    form = request.form
    try:
        data, filename = _upload()
        with atomic():
            added = rules.import_rules(
                current_user,
                data,
                action=form.get("action", ""),
                scope=form.get("scope", "all"),
                category=_category(),
                filename=filename,
            )
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"已添加 {added} 条。", "success")
    return _back()


@bp.route("/export")
def export():
    """Download the enabled rules (``all=1``: every rule); CSV as UTF-8 with a BOM for Excel."""
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "txt"):
        raise DomainError("未知的导出格式。", "format_invalid", "format")
    with atomic():
        text = rules.export_rules(current_user, fmt, enabled_only=request.args.get("all") != "1")
    if fmt == "csv":
        body, mimetype = "\ufeff" + text, "text/csv"
    else:
        body, mimetype = text, "text/plain"
    response = Response(body.encode("utf-8"), mimetype=mimetype)
    response.headers["Content-Type"] = f"{mimetype}; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="moderation-rules.{fmt}"'
    return response
