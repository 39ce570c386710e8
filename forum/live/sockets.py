"""Socket.IO handlers of the "/live" namespace: join a session's rooms, ask, vote, moderate.

Every handler comes through :func:`dangxiao.realtime.on` with its coarse check (PUBLIC for
connecting and watching, LOGIN for everything that writes); the object-level check (live.view,
live.ask, live.vote, live.host) is asked inside, on the session named in the payload, because
the coarse check cannot know the session. There is no generic "join a room" event: a socket
gets into ``live:<sid>.<rev>`` (and the hosts' or its own user room) only through :func:`join` /
:func:`resync`, after live.view; when the session's audience or hosts change the rooms move on
(:func:`forum.live.events.new_rooms`), so what a socket was let into is re-asked.

Payloads come from any client: each handler checks the shape (a dict, ints for ids, strings for
text) and answers ``{"error": {"code": "bad_request", ...}}`` instead of failing; a forged or
unknown id is ``session_not_found`` / ``question_not_found``. Writes run the services of
:mod:`forum.live.questions` in one ``atomic()`` block and ack ``{"ok": true, ...}``; the
broadcast follows the commit (``events.record`` schedules it), so nothing is sent that was
not stored.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask_login import current_user
from flask_socketio import join_room, leave_room

from dangxiao.access import LOGIN, PUBLIC
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.queries import MAX_ID
from dangxiao.realtime import error, on
from dangxiao.transactions import atomic
from forum.live import events, policy, questions
from forum.live.models import LiveQuestion

NAMESPACE = events.NAMESPACE
log = logging.getLogger(__name__)


class BadRequest(DomainError):
    code = "bad_request"


# --- payload checks -----------------------------------------------------------------------------


def _payload(data: Any) -> dict:
    if not isinstance(data, dict):
        raise BadRequest("请求格式有误。")
    return data


def _id(data: dict, key: str, missing_code: str = "bad_request", *, nullable: bool = False) -> int | None:
    """A positive database id from the payload; a forged one (string, float, bool, out of range) is
    treated as an id that does not exist (the caller's not-found code)."""
    if key not in data:
        if nullable:
            return None
        raise BadRequest(f"缺少参数 {key}。", field=key)
    value = data[key]
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise DomainError("内容不存在或已被删除。", missing_code, key)
    return value


def _session_id(data: dict, *, required: bool = True) -> int | None:
    if not required and data.get("session_id") is None:
        return None
    return _id(data, "session_id", "session_not_found")


def _question_id(data: dict, *, nullable: bool = False) -> int | None:
    return _id(data, "question_id", "question_not_found", nullable=nullable)


def _text(data: dict, key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"参数 {key} 应为文字。", field=key)
    return value


def _after(data: dict, *, required: bool) -> int | None:
    """The last seq a client applied: an int ≥ 0 (whether it is in the future is checked on the session)."""
    if "after" not in data or (data["after"] is None and not required):
        if required:
            raise BadRequest("缺少参数 after。", field="after")
        return None
    value = data["after"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DomainError("同步序号无效，请刷新页面。", "seq_invalid", "after")
    return value


def _actor() -> Any:
    return current_user._get_current_object()


def _safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    """An unexpected failure becomes an error ack (the client is never left waiting), logged."""

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except DomainError:
            raise
        except Exception:
            log.exception("live socket handler %s failed", fn.__name__)
            return error("server_error", "服务器出现了问题，请稍后再试。")

    return wrapper


def _question(q: LiveQuestion, actor: Any, session_id: int) -> dict:
    session = questions.get_session(session_id)
    viewer = actor.id if getattr(actor, "is_authenticated", False) else None
    return events.question_dict(q, for_host=policy.may_host(actor, session), viewer_id=viewer)


# --- connecting and watching --------------------------------------------------------------------


@on("connect", access=PUBLIC, namespace=NAMESPACE)
def connect(auth: Any = None) -> bool:
    """Anyone may connect (public sessions have anonymous viewers); rooms come only with join."""
    return True


def _enter(data: Any, *, after_required: bool) -> dict:
    payload = _payload(data)
    session_id = _session_id(payload)
    after = _after(payload, required=after_required)
    actor = _actor()
    for _attempt in range(3):
        session = questions.get_session(session_id)
        if not policy.may_view(actor, session):
            raise Forbidden("您无权查看这场答疑。")
        rev = session.rooms_rev
        rooms = [events.room(session.id, rev)]
        if policy.may_host(actor, session):
            rooms.append(events.hosts_room(session.id, rev))
        if getattr(actor, "is_authenticated", False):
            rooms.append(events.user_room(session.id, rev, actor.id))
        for name in rooms:
            join_room(name, namespace=NAMESPACE)
        # Rooms first, then reads in a fresh transaction (SQLite would keep reading the snapshot
        # taken above): an event committed meanwhile arrives twice (clients skip a seq they have),
        # never not at all; and if the rules changed meanwhile (new rooms), they are asked again.
        db.session.rollback()
        session = questions.get_session(session_id)
        if session.rooms_rev == rev:
            break
        for name in rooms:
            leave_room(name, namespace=NAMESPACE)
    else:
        raise DomainError("答疑设置刚刚变更，请刷新页面。", "session_changed")
    try:
        if after is None:
            return {"ok": True, "state": events.state(actor, session)}
        found = events.events_after(actor, session, after)
    except DomainError:
        for name in rooms:
            leave_room(name, namespace=NAMESPACE)
        raise
    if isinstance(found, dict):  # missed too much: start again from a snapshot
        return {"ok": True, **found}
    return {"ok": True, "events": found}


@on("join", access=PUBLIC, namespace=NAMESPACE)
@_safe
def join(data: Any = None) -> dict:
    """{session_id, after?} → the session's rooms, and {"state"} or the events after `after`."""
    return _enter(data, after_required=False)


@on("resync", access=PUBLIC, namespace=NAMESPACE)
@_safe
def resync(data: Any = None) -> dict:
    """{session_id, after}: a reconnected socket (a new one, in no room) catches up and rejoins."""
    return _enter(data, after_required=True)


# --- members ------------------------------------------------------------------------------------


@on("ask", access=LOGIN, namespace=NAMESPACE)
@_safe
def ask(data: Any = None) -> dict:
    payload = _payload(data)
    session_id = _session_id(payload)
    text = _text(payload, "text")
    anonymous = payload.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise BadRequest("参数 anonymous 应为 true 或 false。", field="anonymous")
    actor = _actor()
    with atomic():
        q = questions.ask(actor, session_id, text, anonymous)
        return {"ok": True, "question": _question(q, actor, q.session_id)}


def _vote(data: Any, service: Callable[..., int], voted: bool) -> dict:
    payload = _payload(data)
    question_id = _question_id(payload)
    session_id = _session_id(payload, required=False)
    with atomic():
        votes = service(_actor(), question_id, session_id)
    return {"ok": True, "question_id": question_id, "votes": votes, "voted": voted}


@on("vote", access=LOGIN, namespace=NAMESPACE)
@_safe
def vote(data: Any = None) -> dict:
    return _vote(data, questions.vote, True)


@on("unvote", access=LOGIN, namespace=NAMESPACE)
@_safe
def unvote(data: Any = None) -> dict:
    return _vote(data, questions.unvote, False)


# --- hosts (live.host is asked by each service, on the question's session) ----------------------


def _host_action(data: Any, act: Callable[[Any, int, int | None, dict], LiveQuestion]) -> dict:
    payload = _payload(data)
    question_id = _question_id(payload)
    session_id = _session_id(payload, required=False)
    actor = _actor()
    with atomic():
        q = act(actor, question_id, session_id, payload)
        return {"ok": True, "question": events.question_dict(q, for_host=True, viewer_id=actor.id)}


@on("approve", access=LOGIN, namespace=NAMESPACE)
@_safe
def approve(data: Any = None) -> dict:
    """{question_id, text?}: with text, the host's edit is shown (the original is kept)."""

    def act(actor: Any, qid: int, sid: int | None, payload: dict) -> LiveQuestion:
        return questions.approve(actor, qid, _text(payload, "text", required=False), session_id=sid)

    return _host_action(data, act)


@on("dismiss", access=LOGIN, namespace=NAMESPACE)
@_safe
def dismiss(data: Any = None) -> dict:
    def act(actor: Any, qid: int, sid: int | None, payload: dict) -> LiveQuestion:
        return questions.dismiss(actor, qid, _text(payload, "reason"), session_id=sid)

    return _host_action(data, act)


@on("answer", access=LOGIN, namespace=NAMESPACE)
@_safe
def answer(data: Any = None) -> dict:
    def act(actor: Any, qid: int, sid: int | None, payload: dict) -> LiveQuestion:
        return questions.answer(actor, qid, _text(payload, "answer"), session_id=sid)

    return _host_action(data, act)


@on("reopen", access=LOGIN, namespace=NAMESPACE)
@_safe
def reopen(data: Any = None) -> dict:
    def act(actor: Any, qid: int, sid: int | None, payload: dict) -> LiveQuestion:
        return questions.reopen(actor, qid, session_id=sid)

    return _host_action(data, act)


@on("highlight", access=LOGIN, namespace=NAMESPACE)
@_safe
def highlight(data: Any = None) -> dict:
    """{question_id | null, session_id}: put a question on the projector, or clear it (null)."""
    payload = _payload(data)
    question_id = _question_id(payload, nullable=True)
    session_id = _session_id(payload, required=question_id is None)
    with atomic():
        shown = questions.highlight(_actor(), question_id, session_id=session_id)
    return {"ok": True, "question_id": shown}
