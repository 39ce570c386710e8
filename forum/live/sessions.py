"""The life of a 在线答疑 session: create and edit (validated), start, close (then archive), list.

Status moves scheduled → live → closed by ONE conditional UPDATE each (``WHERE status = …``):
two hosts pressing 开始 or 结束 at once cannot both win, the loser is told the session has
already moved on. Every status change is written to the event log (``events.record``) in the
same transaction, so clients learn of it exactly like of a question. Closing archives the
answered questions into the linked board in that same transaction (``archive.archive``); a
board that refuses the topic does not keep the session open.

Times are typed in the site's zone (``<input type=datetime-local>``) and stored in UTC.
Services take the acting user first and only flush.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, update

from dangxiao.accounts.branches import ancestor_ids
from dangxiao.accounts.models import Branch, Role, User, UserStatus
from dangxiao.accounts.permissions import has_role
from dangxiao.accounts.services import find_user
from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import can, is_system, require
from dangxiao.queries import MAX_ID, get_or_404
from dangxiao.school.models import Course
from dangxiao.templating import site_zone
from dangxiao.text.clean import clean_block, clean_line
from forum.boards import may_post
from forum.limits import count_chars
from forum.live import events
from forum.live import policy as _policy  # noqa: F401 — registers the live.* rules
from forum.live.models import Audience, LiveHost, LiveSession, ModerationMode, SessionStatus
from forum.models import Board

TITLE_MIN, TITLE_MAX = 2, 100
DESCRIPTION_MAX = 2_000
MAX_HOSTS = 10
CLOSED_LISTED = 30  # the 已结束 group shows the latest ones only
LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
_HOST_SEPARATORS = re.compile(r"[\s,，、;；]+")
FIELDS = (
    "title",
    "description",
    "hosts",
    "course_id",
    "board_id",
    "starts_at",
    "ends_at",
    "moderation",
    "allow_anonymous",
    "audience",
    "branch_id",
)


def get_session(session_id: Any) -> LiveSession:
    return get_or_404(LiveSession, session_id, "该答疑不存在或已被删除。")


# --- validation ------------------------------------------------------------------------------


def parse_local(raw: Any, field_name: str, label: str, *, required: bool) -> datetime | None:
    """A time typed in the site's zone (datetime-local) → aware UTC; aware datetimes pass through."""
    if isinstance(raw, datetime):
        return (raw if raw.tzinfo else raw.replace(tzinfo=site_zone())).astimezone(UTC)
    text = raw.strip() if isinstance(raw, str) else ""
    if raw is not None and not isinstance(raw, str):
        raise DomainError(f"{label}格式不正确。", f"{field_name}_invalid", field_name)
    if not text:
        if required:
            raise DomainError(f"请填写{label}。", f"{field_name}_empty", field_name)
        return None
    for fmt in LOCAL_FORMATS:
        try:
            local = datetime.strptime(text[:19], fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=site_zone()).astimezone(UTC)
    raise DomainError(f"{label}格式不正确，应为“年-月-日 时:分”。", f"{field_name}_invalid", field_name)


def _flag(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "y", "yes", "on", "true")
    return bool(raw)


def _id(raw: Any, field_name: str, label: str) -> int | None:
    """An optional id from a form (string) or code (int); junk is refused, blank is None."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise DomainError(f"{label}无效。", f"{field_name}_invalid", field_name)
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int) or not 0 < raw <= MAX_ID:
        raise DomainError(f"{label}无效。", f"{field_name}_invalid", field_name)
    return raw


def _choice(enum_cls: Any, raw: Any, default: Any, field_name: str, label: str) -> Any:
    if raw is None or raw == "":
        return default
    try:
        return enum_cls(raw)
    except ValueError:
        raise DomainError(f"{label}无效。", f"{field_name}_invalid", field_name) from None


def parse_hosts(raw: Any) -> list[str]:
    """Usernames separated by spaces, commas (，) or 、; a leading @ is allowed; each once."""
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        raw = " ".join(str(item) for item in raw)
    if not isinstance(raw, str):
        raise DomainError("主持人必须是用户名。", "hosts_invalid", "hosts")
    names: list[str] = []
    for token in _HOST_SEPARATORS.split(raw.strip()):
        token = token.lstrip("@＠")
        if token and token not in names:
            names.append(token)
    return names


def _resolve_hosts(raw: Any, creator_id: int | None) -> list[int]:
    """Host user ids, the creator first; any name that is not an active user is refused by name."""
    names = parse_hosts(raw)
    ids: list[int] = [creator_id] if creator_id is not None else []
    unknown: list[str] = []
    for name in names:
        user = find_user(name)
        if user is None or user.status != UserStatus.active:
            unknown.append(name)
        elif user.id not in ids:
            ids.append(user.id)
    if unknown:
        raise DomainError(f"找不到这些用户（请填写用户名）：{'、'.join(unknown)}。", "host_unknown", "hosts")
    if len(ids) > MAX_HOSTS:
        raise DomainError(f"主持人最多 {MAX_HOSTS} 位。", "hosts_too_many", "hosts")
    if not ids:
        raise DomainError("请至少填写一位主持人。", "hosts_empty", "hosts")
    return ids


def may_choose_branch(actor: Any, branch_id: int) -> bool:
    """A branch-only session is for a branch the actor is secretary or 版主 of (admins: any)."""
    return (
        is_system(actor)
        or has_role(actor, Role.branch_secretary, branch_id)
        or has_role(actor, Role.moderator, branch_id)
    )


def _validated(actor: Any, raw: dict[str, Any], current: LiveSession | None) -> dict[str, Any]:
    """Every field checked before anything is written; the first problem is raised with its field."""
    unknown = set(raw) - set(FIELDS)
    if unknown:
        raise DomainError(f"未知字段：{'、'.join(sorted(unknown))}。", "field_unknown")
    title = clean_line(raw.get("title"), "title", "标题", TITLE_MAX)
    if count_chars(title) < TITLE_MIN:
        raise DomainError(f"标题至少 {TITLE_MIN} 个字。", "title_short", "title")
    description = clean_block(raw.get("description"), "description", "简介", DESCRIPTION_MAX, required=False)
    starts_at = parse_local(raw.get("starts_at"), "starts_at", "开始时间", required=True)
    ends_at = parse_local(raw.get("ends_at"), "ends_at", "结束时间", required=False)
    if ends_at is not None and starts_at is not None and ends_at <= starts_at:
        raise DomainError("结束时间必须晚于开始时间。", "ends_before_start", "ends_at")
    moderation = _choice(ModerationMode, raw.get("moderation"), ModerationMode.approve_all, "moderation", "审核方式")
    audience = _choice(Audience, raw.get("audience"), Audience.members, "audience", "参与范围")
    branch_id = _id(raw.get("branch_id"), "branch_id", "组织")
    if audience != Audience.branch:
        branch_id = None
    elif branch_id is None:
        raise DomainError("仅限组织参加时请选择组织。", "branch_required", "branch_id")
    else:
        if db.session.get(Branch, branch_id) is None:
            raise DomainError("所选组织不存在。", "branch_invalid", "branch_id")
        unchanged = current is not None and current.audience == Audience.branch and current.branch_id == branch_id
        if not unchanged and not may_choose_branch(actor, branch_id):
            raise DomainError("只能为您负责的组织开设答疑。", "branch_out_of_scope", "branch_id")
    board_id = _id(raw.get("board_id"), "board_id", "版块")
    if board_id is None:
        raise DomainError("请选择答疑实录发布的版块。", "board_required", "board_id")
    board = db.session.get(Board, board_id)
    if board is None:
        raise DomainError("所选版块不存在。", "board_invalid", "board_id")
    if (current is None or current.board_id != board_id) and not may_post(actor, board):
        raise DomainError(f"您不能在版块“{board.name}”发帖，请换一个版块。", "board_forbidden", "board_id")
    course_id = _id(raw.get("course_id"), "course_id", "课程")
    if course_id is not None and db.session.get(Course, course_id) is None:
        raise DomainError("所选课程不存在。", "course_invalid", "course_id")
    creator_id = current.created_by_id if current is not None else getattr(actor, "id", None)
    host_ids = _resolve_hosts(raw.get("hosts"), creator_id)
    return {
        "title": title,
        "description": description,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "moderation": moderation,
        "allow_anonymous": _flag(raw.get("allow_anonymous")),
        "audience": audience,
        "branch_id": branch_id,
        "board_id": board_id,
        "course_id": course_id,
        "host_ids": host_ids,
    }


# --- create / edit ---------------------------------------------------------------------------


def create_session(actor: Any, **fields: Any) -> LiveSession:
    """A scheduled session; the creator is always a host (so they can run what they made)."""
    require(actor, "live.create", None, "您没有开设在线答疑的权限。")
    values = _validated(actor, fields, None)
    host_ids = values.pop("host_ids")
    session = LiveSession(**values, status=SessionStatus.scheduled, created_by_id=getattr(actor, "id", None))
    session.hosts = [LiveHost(user_id=uid) for uid in host_ids]
    db.session.add(session)
    db.session.flush()
    return session


def update_session(actor: Any, session_id: Any, **fields: Any) -> LiveSession:
    """Change a scheduled or live session (a closed one is a record: it stays as it was)."""
    session = get_session(session_id)
    require(actor, "live.manage", session, "只有主持人或创建者可以修改该答疑。")
    if session.status == SessionStatus.closed:
        raise DomainError("该答疑已结束，不能再修改。", "session_closed")
    values = _validated(actor, fields, session)
    host_ids = values.pop("host_ids")
    before = _access(session)
    for name, value in values.items():
        setattr(session, name, value)
    kept = {h.user_id: h for h in session.hosts}
    session.hosts = [kept.get(uid) or LiveHost(user_id=uid) for uid in host_ids]
    db.session.flush()
    if _access(session) != before:
        # Sockets were let in under the old rules: tell them to join again (and be asked again),
        # then send everything after this to rooms only a fresh join enters.
        events.record(session.id, "access", {}, "all")
        events.new_rooms(session.id)
    return session


def _access(session: LiveSession) -> tuple[Any, ...]:
    """What decides who may watch and who may host."""
    return (session.audience, session.branch_id, frozenset(h.user_id for h in session.hosts))


# --- status ----------------------------------------------------------------------------------


def _status_payload(session: LiveSession) -> dict[str, Any]:
    return {"status": session.status.value, "label": session.status.label}


def start(actor: Any, session_id: Any) -> LiveSession:
    """scheduled → live: one conditional UPDATE (a second press finds nothing to move)."""
    session = get_session(session_id)
    require(actor, "live.manage", session, "只有主持人可以开始该答疑。")
    moved = db.session.execute(
        update(LiveSession)
        .where(LiveSession.id == session.id, LiveSession.status == SessionStatus.scheduled)
        .values(status=SessionStatus.live, started_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        db.session.refresh(session)
        message = "该答疑已经开始了。" if session.status == SessionStatus.live else "该答疑已结束，不能再开始。"
        raise DomainError(message, "session_not_scheduled")
    db.session.refresh(session)
    events.record(session.id, "status", _status_payload(session), "all")
    return session


@dataclass
class Closed:
    """What closing did: the archive topic (if any) and the sentence the host is shown."""

    session: LiveSession
    answered: int = 0
    topic_id: int | None = None
    held: bool = False
    note: str = ""


def close(actor: Any, session_id: Any) -> Closed:
    """live (or scheduled) → closed by one conditional UPDATE, then the archive, same transaction.

    The archive never keeps a session open: a board that refuses or holds the topic is
    reported in ``Closed.note`` while the session is closed all the same.
    """
    from forum.live import archive  # archive imports this module

    session = get_session(session_id)
    require(actor, "live.manage", session, "只有主持人可以结束该答疑。")
    moved = db.session.execute(
        update(LiveSession)
        .where(
            LiveSession.id == session.id,
            LiveSession.status.in_([SessionStatus.scheduled, SessionStatus.live]),
        )
        .values(status=SessionStatus.closed, closed_at=utcnow(), highlighted_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        raise DomainError("该答疑已经结束了。", "session_closed")
    db.session.refresh(session)
    events.record(session.id, "status", _status_payload(session), "all")
    return archive.archive(actor, session)


# --- lists -----------------------------------------------------------------------------------


@dataclass
class Listed:
    session: LiveSession
    host_names: list[str]
    manage: bool  # may edit / start / close / export


GROUPS = (
    (SessionStatus.live, "进行中"),
    (SessionStatus.scheduled, "即将开始"),
    (SessionStatus.closed, "已结束"),
)


def _active(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False)) and bool(getattr(actor, "is_active", False))


def visibility_filter(actor: Any) -> ColumnElement[bool]:
    """``policy.may_view`` as SQL over LiveSession: public for everyone; members for active users;
    branch sessions for the subtree's members, the hosts and admins."""
    if not _active(actor):
        return LiveSession.audience == Audience.public
    if is_system(actor) or has_role(actor, Role.admin):
        return LiveSession.id.is_not(None)
    branch_id = getattr(actor, "branch_id", None)
    chain = ancestor_ids(branch_id) if branch_id else []
    hosted = select(LiveHost.session_id).where(LiveHost.user_id == actor.id)
    return or_(
        LiveSession.audience.in_([Audience.public, Audience.members]),
        LiveSession.branch_id.in_(chain) if chain else false(),
        LiveSession.id.in_(hosted),
    )


def visible_sessions(actor: Any) -> list[tuple[str, str, list[Listed]]]:
    """(status, heading, sessions) for 进行中 / 即将开始 / 已结束, only what `actor` may see."""
    where = visibility_filter(actor)
    by_status: dict[SessionStatus, list[LiveSession]] = {}
    orders = {
        SessionStatus.live: (LiveSession.started_at.desc(), LiveSession.id.desc()),
        SessionStatus.scheduled: (LiveSession.starts_at.asc(), LiveSession.id.asc()),
        SessionStatus.closed: (LiveSession.closed_at.desc(), LiveSession.id.desc()),
    }
    for status, _label in GROUPS:
        stmt = select(LiveSession).where(where, LiveSession.status == status).order_by(*orders[status])
        if status == SessionStatus.closed:
            stmt = stmt.limit(CLOSED_LISTED)
        by_status[status] = list(db.session.scalars(stmt))
    ids = [s.id for rows in by_status.values() for s in rows]
    names: dict[int, list[str]] = {}
    hosts: dict[int, set[int]] = {}
    if ids:
        rows = db.session.execute(
            select(LiveHost.session_id, User.id, User.display_name)
            .join(User, User.id == LiveHost.user_id)
            .where(LiveHost.session_id.in_(ids))
            .order_by(LiveHost.id)
        )
        for sid, uid, name in rows:
            names.setdefault(sid, []).append(name)
            hosts.setdefault(sid, set()).add(uid)
    admin = _active(actor) and (is_system(actor) or has_role(actor, Role.admin))
    me = getattr(actor, "id", None) if _active(actor) else None

    def manage(s: LiveSession) -> bool:
        return admin or (me is not None and (me == s.created_by_id or me in hosts.get(s.id, set())))

    return [
        (status.value, label, [Listed(s, names.get(s.id, []), manage(s)) for s in by_status[status]])
        for status, label in GROUPS
    ]


def may_create(actor: Any) -> bool:
    return can(actor, "live.create")
