"""在线答疑 list, the session form, start/close and the CSV export (blueprint "live", /live/).

Thin wrappers over :mod:`forum.live.sessions` and :mod:`forum.live.archive`: every change
runs in one ``atomic()``; a refused change re-renders the form with the message next to its
field (or is flashed for the one-button actions). Who may act is decided by the policies
(``live.create``, ``live.manage``); the access table only asks for a login. The room pages
(audience, host console, projector) are ``room_views``; links to them are drawn only when
those endpoints exist.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from dangxiao.access import LOGIN, PUBLIC
from dangxiao.accounts.branches import subtree_ids, tree_rows
from dangxiao.accounts.models import Role
from dangxiao.accounts.permissions import scope_roots
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import is_system, require
from dangxiao.school.models import Course
from dangxiao.security import is_safe_next
from dangxiao.templating import localtime
from dangxiao.transactions import atomic
from forum.boards import may_post, readable_boards_stmt
from forum.live import archive, sessions
from forum.live.models import Audience, LiveSession, ModerationMode, SessionStatus
from forum.models import Board

bp = Blueprint("live", __name__, url_prefix="/live")
ACCESS = {
    "index": PUBLIC,
    "new": LOGIN,
    "edit": LOGIN,
    "start": LOGIN,
    "close": LOGIN,
    "export": LOGIN,
}

FORM_FIELDS = sessions.FIELDS
INPUT_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type=datetime-local> shows and sends
MAX_COURSES = 300


def room_url(endpoint: str, session_id: int) -> str | None:
    """A link to a room page (room_views), or None while that page does not exist."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, session_id=session_id)


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"live_room_url": room_url}


@bp.route("/")
def index():
    return render_template(
        "live/index.html",
        groups=sessions.visible_sessions(current_user),
        may_create=sessions.may_create(current_user),
    )


# --- the form --------------------------------------------------------------------------------


def _branch_choices(actor: Any, current: LiveSession | None) -> list[tuple[int, str, int]]:
    """(id, name, depth) of the branches `actor` may open a branch-only session for."""
    rows = tree_rows()
    allowed: set[int] | None = None
    if not is_system(actor):
        allowed = set()
        for role in (Role.branch_secretary, Role.moderator):
            roots = scope_roots(actor, role)
            if roots is None:
                allowed = None
                break
            for root in roots:
                allowed |= subtree_ids(root)
    if current is not None and current.branch_id is not None and allowed is not None:
        allowed.add(current.branch_id)
    return [(b.id, b.name, depth) for b, depth in rows if allowed is None or b.id in allowed]


def _board_choices(actor: Any, current: LiveSession | None) -> list[Board]:
    boards = [b for b in db.session.scalars(readable_boards_stmt(actor)) if may_post(actor, b)]
    if current is not None and current.board_id and all(b.id != current.board_id for b in boards):
        board = db.session.get(Board, current.board_id)
        if board is not None:
            boards.insert(0, board)
    return boards


def _course_choices(current: LiveSession | None) -> list[tuple[int, str]]:
    stmt = select(Course.id, Course.title).where(Course.published.is_(True)).order_by(Course.title).limit(MAX_COURSES)
    courses = [(cid, title) for cid, title in db.session.execute(stmt)]
    if current is not None and current.course_id and all(cid != current.course_id for cid, _ in courses):
        course = db.session.get(Course, current.course_id)
        if course is not None:
            courses.insert(0, (course.id, course.title))
    return courses


def _values_of(session: LiveSession) -> dict[str, str]:
    """What the form shows for a stored session (times in the site's zone)."""
    usernames = [h.user.username for h in session.hosts if h.user_id != session.created_by_id]
    return {
        "title": session.title,
        "description": session.description,
        "hosts": " ".join(usernames),
        "course_id": str(session.course_id or ""),
        "board_id": str(session.board_id or ""),
        "starts_at": localtime(session.starts_at, INPUT_FORMAT),
        "ends_at": localtime(session.ends_at, INPUT_FORMAT) if session.ends_at else "",
        "moderation": session.moderation.value,
        "allow_anonymous": "1" if session.allow_anonymous else "",
        "audience": session.audience.value,
        "branch_id": str(session.branch_id or ""),
    }


def _submitted() -> dict[str, str]:
    return {name: request.form.get(name, "") for name in FORM_FIELDS}


def _form_page(form: dict[str, str], error: DomainError | None, session: LiveSession | None = None):
    return render_template(
        "live/session_form.html",
        form=form,
        error=error,
        session=session,
        boards=_board_choices(current_user, session),
        branches=_branch_choices(current_user, session),
        courses=_course_choices(session),
        audiences=list(Audience),
        moderations=list(ModerationMode),
        host_limit=sessions.MAX_HOSTS,
    ), (error.status if error else 200)


@bp.route("/new", methods=["GET", "POST"])
def new():
    require(current_user, "live.create", None, "您没有开设在线答疑的权限。")
    if request.method == "GET":
        blank = dict.fromkeys(FORM_FIELDS, "")
        blank.update(moderation=ModerationMode.approve_all.value, audience=Audience.members.value)
        return _form_page(blank, None)
    form = _submitted()
    try:
        with atomic():
            created = sessions.create_session(current_user, **form)
            title = created.title
    except DomainError as error:
        return _form_page(form, error)
    flash(f"已创建答疑“{title}”。到时间后请在列表中点“开始”。", "success")
    return redirect(url_for("live.index"))


@bp.route("/<int:session_id>/edit", methods=["GET", "POST"])
def edit(session_id: int):
    session = sessions.get_session(session_id)
    require(current_user, "live.manage", session, "只有主持人或创建者可以修改该答疑。")
    if session.status == SessionStatus.closed:
        flash("该答疑已结束，不能再修改。", "error")
        return redirect(url_for("live.index"))
    if request.method == "GET":
        return _form_page(_values_of(session), None, session)
    form = _submitted()
    try:
        with atomic():
            changed = sessions.update_session(current_user, session_id, **form)
            title = changed.title
    except DomainError as error:
        return _form_page(form, error, sessions.get_session(session_id))
    flash(f"已保存答疑“{title}”。", "success")
    return redirect(url_for("live.index"))


# --- one-button actions ----------------------------------------------------------------------


def _back(session_id: int):
    """Where the host pressed the button (the list or the host console), else the list."""
    target = request.form.get("next", "")
    return redirect(target if is_safe_next(target) else url_for("live.index"))


def _managed(session_id: int) -> LiveSession:
    session = sessions.get_session(session_id)
    require(current_user, "live.manage", session, "只有主持人可以操作该答疑。")
    return session


@bp.post("/<int:session_id>/start")
def start(session_id: int):
    _managed(session_id)
    try:
        with atomic():
            title = sessions.start(current_user, session_id).title
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"答疑“{title}”已开始，党员现在可以提问了。", "success")
    return _back(session_id)


@bp.post("/<int:session_id>/close")
def close(session_id: int):
    _managed(session_id)
    try:
        with atomic():
            closed = sessions.close(current_user, session_id)
            note, held = closed.note, closed.held
            topic_id = closed.topic_id
    except DomainError as error:
        flash(error.message, "error")
        return _back(session_id)
    flash(note, "info" if held or topic_id is None else "success")
    return redirect(url_for("live.index"))


@bp.get("/<int:session_id>/export.csv")
def export(session_id: int):
    _managed(session_id)
    data = archive.export_csv(current_user, session_id)
    return Response(
        data,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="live-{session_id}.csv"',
            "Cache-Control": "no-store",
        },
    )
