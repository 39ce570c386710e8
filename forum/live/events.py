"""The event log of a live session: sequence numbers, who sees what, snapshots and resync.

Every change is written as a ``LiveEvent`` with the session's next number (:func:`next_seq`,
one ``UPDATE … RETURNING`` in the caller's transaction, so the number commits with the change
or not at all: no gaps, no duplicates) and broadcast only after the commit. A client keeps the
last number it applied; on reconnect it asks :func:`events_after` for the rest.

Event kinds (every payload also has ``"seq"``, ``"kind"`` and ``"session_id"``):

* ``question`` ``{"question": question_dict}`` — a question is new or changed (status, text,
  votes, answer). Clients replace their copy by ``question["id"]``; a question whose status a
  viewer should not see in the list (dismissed, for the audience) simply never reaches them.
* ``votes`` ``{"question_id", "votes"}`` — the server's tally after a vote or an unvote.
* ``highlight`` ``{"question_id": int | None}`` — the question on the projector, or none.
* ``status`` ``{"status", "label"}`` — the session moved (scheduled → live → closed).
* ``removed`` ``{"question_id"}`` — an approved question was dismissed: the audience drops it
  (the asker and the hosts then get its ``question`` event with the reason).

* ``access`` ``{}`` — who may watch or host changed (an edit of the audience, its branch or the
  hosts): clients join afresh and get a new snapshot, or a refusal.

Audiences: ``"all"`` (room ``live:<sid>.<rev>``), ``"hosts"`` (``live:<sid>.<rev>:hosts``) and
``"user:<id>"`` (the asker's room ``live:<sid>.<rev>:u:<id>`` and the hosts' room): pending and
dismissed questions go to their asker and the hosts only.

Rooms carry the session's ``rooms_rev``. A socket is put in rooms after the policy admitted it;
when the rules change (:func:`new_rooms`, in the edit's transaction, right after its ``access``
event) every later event goes to rooms of the next revision, which only a fresh ``join`` or
``resync`` — asking the policy again — enters. A demoted host or a member outside a narrowed
audience keeps a socket that receives nothing more, without any server having to find and
evict it (which, with several processes, none could do for the others' sockets).

Anonymity: one row is one payload, so a question asked anonymously is recorded twice when it
reaches everyone — an ``"all"`` event whose author is 匿名 and right after it a ``"hosts"``
event with the real name. Hosts are in both rooms and apply both in order, ending with the
name; nobody else ever receives it. (User-audience events carry the real name: only the asker
and the hosts get them.)

Viewer-specific fields ``"mine"`` and ``"voted"`` are NOT in event payloads (one payload goes to
a whole room): :func:`state` and the acks of ask/vote carry them; clients keep what they know.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from dangxiao.db_types import aware
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db, socketio
from dangxiao.transactions import after_commit
from forum.live import policy
from forum.live.models import LiveEvent, LiveQuestion, LiveSession, LiveVote, QuestionStatus

NAMESPACE = "/live"
EVENT = "live_event"
ANONYMOUS_NAME = "匿名"
PUBLIC_STATUSES = (QuestionStatus.approved, QuestionStatus.answered)


def room(session_id: int, rev: int) -> str:
    return f"live:{session_id}.{rev}"


def hosts_room(session_id: int, rev: int) -> str:
    return f"live:{session_id}.{rev}:hosts"


def user_room(session_id: int, rev: int, user_id: int) -> str:
    return f"live:{session_id}.{rev}:u:{user_id}"


def rooms_for(session_id: int, rev: int, audience: str) -> list[str]:
    """The Socket.IO rooms an event of `audience` is emitted to (a list: a client in two gets it once)."""
    if audience == "all":
        return [room(session_id, rev)]
    if audience == "hosts":
        return [hosts_room(session_id, rev)]
    if audience.startswith("user:"):
        return [hosts_room(session_id, rev), user_room(session_id, rev, int(audience[5:]))]
    raise ValueError(f"unknown audience {audience!r}")


# --- the sequence and the log ----------------------------------------------------------------


def _bump(session_id: int, column: str) -> tuple[int, int]:
    """Add one to `column` of the session row; (seq, rooms_rev) after it. One UPDATE … RETURNING
    in the caller's transaction: on PostgreSQL the row stays locked until the commit, so writers
    of one session take numbers one after the other and a rolled-back change gives its number back."""
    target = getattr(LiveSession, column)
    seq, rev = db.session.execute(
        update(LiveSession)
        .where(LiveSession.id == session_id)
        .values({target: target + 1})
        .returning(LiveSession.seq, LiveSession.rooms_rev)
        .execution_options(synchronize_session=False)
    ).one()
    loaded = db.session.identity_map.get(db.session.identity_key(LiveSession, session_id))  # type: ignore[attr-defined]
    if loaded is not None:
        set_committed_value(loaded, "seq", seq)
        set_committed_value(loaded, "rooms_rev", rev)
    return seq, rev


def next_seq(session_id: int) -> int:
    """The session's next event number (see :func:`_bump`)."""
    return _bump(session_id, "seq")[0]


def new_rooms(session_id: int) -> int:
    """Move the session to fresh rooms (after the ``access`` event that tells clients to rejoin)."""
    return _bump(session_id, "rooms_rev")[1]


def record(session_id: int, kind: str, payload: dict, audience: str = "all") -> LiveEvent:
    """Write the event (flushed) and broadcast its payload to `audience` once the transaction commits."""
    seq, rev = _bump(session_id, "seq")
    rooms = rooms_for(session_id, rev, audience)
    body = {**payload, "seq": seq, "kind": kind, "session_id": session_id}
    event = LiveEvent(session_id=session_id, seq=seq, kind=kind, audience=audience, payload=body)
    db.session.add(event)
    db.session.flush()

    def emit() -> None:
        socketio.emit(EVENT, body, to=rooms if len(rooms) > 1 else rooms[0], namespace=NAMESPACE)

    after_commit(emit)
    return event


# --- what a viewer sees -----------------------------------------------------------------------


def _viewer_id(actor: Any) -> int | None:
    return getattr(actor, "id", None) if getattr(actor, "is_authenticated", False) else None


def _iso(moment: datetime | None) -> str | None:
    """UTC with its offset (SQLite hands back naive datetimes; a browser would read those as local)."""
    return aware(moment).astimezone(UTC).isoformat() if moment is not None else None


def question_dict(q: LiveQuestion, *, for_host: bool, viewer_id: int | None) -> dict:
    """A question as `viewer_id` may see it: hosts always get the asker's real name.

    ``mine``/``voted`` are filled for a snapshot (``voted`` from the caller: see :func:`state`);
    events drop them (see the module doc).
    """
    mine = viewer_id is not None and q.author_id == viewer_id
    name = q.author.display_name if q.author is not None else "（已注销）"
    hidden = q.anonymous and not (for_host or mine)
    data: dict[str, Any] = {
        "id": q.id,
        "text": q.text,
        "status": q.status.value,
        "status_label": q.status.label,
        "votes": q.votes,
        "answer": q.answer,
        "answered_at": _iso(q.answered_at),
        "created_at": _iso(q.created_at),
        "author": ANONYMOUS_NAME if hidden else name,
        "anonymous": q.anonymous,
        "mine": mine,
        "voted": False,
    }
    if for_host or mine:
        data["dismiss_reason"] = q.dismiss_reason
    if for_host:
        data["original_text"] = q.original_text
    return data


def _event_question(q: LiveQuestion, *, for_host: bool) -> dict:
    data = question_dict(q, for_host=for_host, viewer_id=None)
    del data["mine"], data["voted"]
    return data


def record_question(q: LiveQuestion) -> None:
    """The `question` event(s) for q's current state (see the module doc for who gets which)."""
    if q.status in PUBLIC_STATUSES:
        record(q.session_id, "question", {"question": _event_question(q, for_host=False)}, "all")
        if q.anonymous:
            record(q.session_id, "question", {"question": _event_question(q, for_host=True)}, "hosts")
    elif q.author_id is not None:
        record(q.session_id, "question", {"question": _event_question(q, for_host=True)}, f"user:{q.author_id}")
    else:  # the asker's account is gone: only the hosts remain to see it
        record(q.session_id, "question", {"question": _event_question(q, for_host=True)}, "hosts")


def state(actor: Any, session: LiveSession) -> dict:
    """The full snapshot a page renders and a client that missed too much restarts from."""
    viewer_id = _viewer_id(actor)
    host = policy.may_host(actor, session)
    stmt = select(LiveQuestion).options(selectinload(LiveQuestion.author)).where(LiveQuestion.session_id == session.id)
    if not host:
        visible = LiveQuestion.status.in_(PUBLIC_STATUSES)
        if viewer_id is not None:
            visible = or_(visible, LiveQuestion.author_id == viewer_id)
        stmt = stmt.where(visible)
    questions = db.session.scalars(stmt.order_by(LiveQuestion.id)).all()
    my_votes: list[int] = []
    if viewer_id is not None:
        my_votes = list(
            db.session.scalars(
                select(LiveVote.question_id)
                .join(LiveQuestion, LiveQuestion.id == LiveVote.question_id)
                .where(LiveQuestion.session_id == session.id, LiveVote.user_id == viewer_id)
                .order_by(LiveVote.question_id)
            )
        )
    voted = set(my_votes)
    items = []
    for q in questions:
        item = question_dict(q, for_host=host, viewer_id=viewer_id)
        item["voted"] = q.id in voted
        items.append(item)
    return {
        "session_id": session.id,
        "status": session.status.value,
        "status_label": session.status.label,
        "highlighted_id": session.highlighted_id,
        "is_host": host,
        "questions": items,
        "my_votes": my_votes,
        "seq": session.seq,
    }


def _visible_audiences(actor: Any, session: LiveSession):
    viewer_id = _viewer_id(actor)
    if policy.may_host(actor, session):
        return None  # hosts see every event
    names = ["all"]
    if viewer_id is not None:
        names.append(f"user:{viewer_id}")
    return LiveEvent.audience.in_(names)


def events_after(actor: Any, session: LiveSession, after: Any) -> list[dict] | dict:
    """The payloads after number `after` that `actor` may see, in order.

    `after` must be an int with 0 ≤ after ≤ session.seq (a number from the future or a negative
    one is a client bug or a forgery: ``seq_invalid``). When more than LIVE_RESYNC_MAX visible
    events were missed the answer is ``{"reset": True, "snapshot": state(...)}`` instead of a list.
    """
    if not policy.may_view(actor, session):
        raise Forbidden("您无权查看这场答疑。")
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= session.seq:
        raise DomainError("同步序号无效，请刷新页面。", "seq_invalid", "after")
    limit = int(current_app.config["LIVE_RESYNC_MAX"])
    stmt = select(LiveEvent.payload).where(LiveEvent.session_id == session.id, LiveEvent.seq > after)
    audiences = _visible_audiences(actor, session)
    if audiences is not None:
        stmt = stmt.where(audiences)
    payloads = list(db.session.scalars(stmt.order_by(LiveEvent.seq).limit(limit + 1)))
    if len(payloads) > limit:
        return {"reset": True, "snapshot": state(actor, session)}
    return payloads
