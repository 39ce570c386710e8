"""Admin pages for forum boards: list, new, edit (settings and moderators), archive, order.

Thin wrappers over :mod:`forum.board_admin`: a board and its moderators are saved in one
``atomic()``, so a refused moderator list leaves the board unchanged too.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectField, StringField, TextAreaField

from dangxiao.access import role
from dangxiao.accounts import branches as branch_service
from dangxiao.errors import DomainError
from dangxiao.forms_util import Form, attach_error, options, run_and_flash
from dangxiao.transactions import atomic
from forum import board_admin
from forum.models import Approval, Board, PostAccess, ReadAccess

bp = Blueprint("forum_admin", __name__, url_prefix="/admin/forum")
ADMIN = role("admin")
ACCESS = {view: ADMIN for view in ("boards", "board_new", "board_edit", "board_archive", "board_move")}

MODERATORS_HINT = "每行一位：填用户名；只管某组织（含下级）党员帖子的版主，写“用户名 组织名”，中间空一格。"


class BoardForm(Form):
    # Selects do not validate choices: the service refuses unknown values with its own message.
    name = StringField("版块名称", render_kw={"maxlength": board_admin.NAME_MAX})
    description = TextAreaField("版块简介", render_kw={"rows": 3, "maxlength": board_admin.DESCRIPTION_MAX})
    position = StringField("排序（数字小的在前）", render_kw={"inputmode": "numeric"})
    read_access = SelectField("谁可以阅读", choices=options(ReadAccess.choices()), validate_choice=False)
    post_access = SelectField("谁可以发帖", choices=options(PostAccess.choices()), validate_choice=False)
    branch_id = SelectField("指定组织（按组织开放时必选）", coerce=int, validate_choice=False)
    approval = SelectField("审核方式", choices=options(Approval.choices()), validate_choice=False)
    flag_threshold = StringField("举报几次后隐藏待审（1–50）", render_kw={"inputmode": "numeric"})
    edit_window_minutes = StringField("作者可编辑时限（分钟，0 表示不可编辑）", render_kw={"inputmode": "numeric"})
    moderators = TextAreaField("版主", render_kw={"rows": 4, "spellcheck": "false", "autocapitalize": "off"})

    def settings(self) -> dict:
        return {field: getattr(self, field).data for field in board_admin.FIELDS}


def _form(board: Board | None) -> BoardForm:
    form = BoardForm(obj=board)
    form.branch_id.choices = options(
        [(0, "（不指定）")] + [(b.id, "　" * depth + b.name) for b, depth in branch_service.tree_rows()]
    )
    if request.method == "GET":
        if board is None:
            form.read_access.data = ReadAccess.members.value
            form.post_access.data = PostAccess.members.value
            form.approval.data = Approval.none.value
            form.flag_threshold.data = "3"
            form.edit_window_minutes.data = "60"
        else:
            form.read_access.data = board.read_access.value
            form.post_access.data = board.post_access.value
            form.approval.data = board.approval.value
            form.branch_id.data = board.branch_id or 0
            form.position.data = str(board.position)
            form.flag_threshold.data = str(board.flag_threshold)
            form.edit_window_minutes.data = str(board.edit_window_minutes)
            form.moderators.data = board_admin.moderators_text(board)
    return form


def _form_page(board: Board | None):
    form = _form(board)
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                settings = form.settings()
                if board is None:
                    saved = board_admin.create_board(current_user, **settings)
                else:
                    saved = board_admin.update_board(current_user, board.id, **settings)
                entries = board_admin.parse_moderators(form.moderators.data or "")
                board_admin.set_moderators(current_user, saved.id, entries)
                name = saved.name
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash(f"已保存版块“{name}”。", "success")
            return redirect(url_for("forum_admin.boards"))
    elif request.method == "POST":
        status = 400
    return render_template("forum/admin/board_form.html", form=form, board=board, hint=MODERATORS_HINT), status


@bp.route("/boards/")
def boards():
    return render_template("forum/admin/boards.html", rows=board_admin.board_rows())


@bp.route("/boards/new", methods=["GET", "POST"])
def board_new():
    return _form_page(None)


@bp.route("/boards/<int:board_id>", methods=["GET", "POST"])
def board_edit(board_id: int):
    return _form_page(board_admin.get_board(board_id))


def _action(run, done: str):
    return run_and_flash(run, done, url_for("forum_admin.boards"))


@bp.route("/boards/<int:board_id>/archive", methods=["POST"])
def board_archive(board_id: int):
    """Set the archived flag to the submitted value (a resubmitted form changes nothing more)."""
    wanted = request.form.get("archived", "")
    if wanted not in ("1", "0"):
        flash("提交的内容不正确，请重试。", "error")
        return redirect(url_for("forum_admin.boards"))
    board = board_admin.get_board(board_id)
    done = f"已{'归档' if wanted == '1' else '恢复'}版块“{board.name}”。"
    return _action(lambda: board_admin.set_archived(current_user, board_id, wanted == "1"), done)


@bp.route("/boards/<int:board_id>/move", methods=["POST"])
def board_move(board_id: int):
    offset = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if offset is None:
        flash("提交的内容不正确，请重试。", "error")
        return redirect(url_for("forum_admin.boards"))
    board = board_admin.get_board(board_id)
    return _action(lambda: board_admin.move_board(current_user, board_id, offset), f"已调整“{board.name}”的顺序。")
