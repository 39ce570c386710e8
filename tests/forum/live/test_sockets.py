"""The "/live" Socket.IO handlers: who may join, ask, vote and moderate; what each client receives.

Real Socket.IO test clients (Flask-SocketIO's) carrying a real login cookie; assertions on the
acks, on what each client received, and on the stored rows. No test here holds an app context
open (no ``ctx``): a request context reuses an app context already pushed, so every socket would
share one ``g`` — and Flask-Login's cached user — with the test; rows are read in short contexts.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dangxiao.extensions import db, socketio

NS = "/live"


@pytest.fixture
def app_config(app_config):
    app_config["LIVE_ASK_RATE"] = "1000 per second"  # the rate-limit test puts the real one back
    return app_config


@pytest.fixture
def sock(app, create_user):
    """sock(username | None): a connected "/live" client, logged in as `username` (None: anonymous)."""
    clients = []

    def make(username: str | None = None):
        http = app.test_client()
        if username is not None:
            reply = http.post("/accounts/login", data={"username": username, "password": "correct-horse-1"})
            assert reply.status_code == 302, reply.get_data(as_text=True)[:300]
        client = socketio.test_client(app, namespace=NS, flask_test_client=http)
        assert client.is_connected(NS)
        clients.append(client)
        return client

    yield make
    for client in clients:
        if client.is_connected(NS):
            client.disconnect(NS)


def call(client, event: str, data=None) -> dict:
    return client.emit(event, data, namespace=NS, callback=True)


def code(reply) -> str | None:
    return reply.get("error", {}).get("code") if isinstance(reply, dict) else f"no ack: {reply!r}"


def received(client) -> list[dict]:
    """The live_event payloads this client got since the last call."""
    return [m["args"][0] for m in client.get_received(NS) if m["name"] == "live_event"]


def rows(app, model, **where) -> int:
    """Stored rows, read in an app context of the test's own (never one the handlers share)."""
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    with app.app_context():
        return db.session.scalar(stmt)


def load(app, model, ident):
    with app.app_context():
        row = db.session.get(model, ident)
        db.session.expunge(row)
        return row


@pytest.fixture
def people(create_user):
    return {
        "host": create_user("s_host", display_name="主持人"),
        "asker": create_user("s_asker", display_name="提问人"),
        "other": create_user("s_other", display_name="旁听人"),
    }


def test_pending_reaches_hosts_and_asker_only_then_the_approval_reaches_everyone(app, sock, make_session, people):
    from forum.live.models import LiveSession

    sid = make_session([people["host"]], audience="public")
    host, asker, other, anon = sock("s_host"), sock("s_asker"), sock("s_other"), sock(None)
    for client in (host, asker, other, anon):
        reply = call(client, "join", {"session_id": sid})
        assert reply["ok"] and reply["state"]["seq"] == 0, reply
        received(client)
    assert call(host, "join", {"session_id": sid})["state"]["is_host"] is True

    reply = call(asker, "ask", {"session_id": sid, "text": "预备党员的预备期是多久？", "anonymous": False})
    assert reply["ok"] and reply["question"]["status"] == "pending" and reply["question"]["mine"] is True
    qid = reply["question"]["id"]
    [to_host], [to_asker] = received(host), received(asker)
    assert to_host == to_asker and (to_host["seq"], to_host["question"]["id"]) == (1, qid)
    assert received(other) == [] and received(anon) == []

    reply = call(host, "approve", {"question_id": qid, "text": "预备党员的预备期是多长时间？"})
    assert reply["ok"] and reply["question"]["status"] == "approved"
    for client in (host, asker, other, anon):
        [event] = received(client)
        assert (event["kind"], event["seq"], event["question"]["id"]) == ("question", 2, qid)
        assert event["question"]["text"] == "预备党员的预备期是多长时间？"
    assert load(app, LiveSession, sid).seq == 2

    reply = call(other, "vote", {"question_id": qid})
    assert reply == {"ok": True, "question_id": qid, "votes": 1, "voted": True}
    assert [(e["kind"], e["votes"], e["seq"]) for e in received(anon)] == [("votes", 1, 3)]

    # a reconnecting client (a new socket, in no room) catches up from its last number and rejoins
    late = sock("s_other")
    reply = call(late, "resync", {"session_id": sid, "after": 1})
    assert [e["seq"] for e in reply["events"]] == [2, 3]
    call(host, "answer", {"question_id": qid, "answer": "一年。"})
    [event] = received(late)
    assert event["question"]["status"] == "answered" and event["seq"] == 4


def test_unauthenticated_sockets_cannot_ask_or_vote(app, sock, make_session, people):
    from forum.live.models import LiveQuestion, LiveVote

    sid = make_session([people["host"]], audience="public", moderation="auto")
    member = sock("s_asker")
    qid = call(member, "ask", {"session_id": sid, "text": "怎样交党费？"})["question"]["id"]
    anon = sock(None)
    assert call(anon, "join", {"session_id": sid})["state"]["questions"][0]["id"] == qid  # watching is public
    assert code(call(anon, "ask", {"session_id": sid, "text": "匿名访客的提问"})) == "login_required"
    assert code(call(anon, "vote", {"question_id": qid})) == "login_required"
    assert code(call(anon, "approve", {"question_id": qid})) == "login_required"
    assert rows(app, LiveQuestion, session_id=sid) == 1 and rows(app, LiveVote) == 0

    members_only = make_session([people["host"]], audience="members")
    assert code(call(anon, "join", {"session_id": members_only})) == "forbidden"


def test_member_of_another_branch_cannot_join_a_branch_session(app, sock, make_session, create_branch, create_user):
    from forum.live.models import LiveQuestion

    top = create_branch("一党委", kind="committee")
    child = create_branch("一党委第一支部", parent=top)
    elsewhere = create_branch("二支部")
    host = create_user("b_host")
    create_user("b_inside", branch=child)
    create_user("b_outside", branch=elsewhere)
    sid = make_session([host], audience="branch", branch_id=top, moderation="auto")

    inside, outside, hosting = sock("b_inside"), sock("b_outside"), sock("b_host")
    assert call(inside, "join", {"session_id": sid})["ok"]
    assert call(hosting, "join", {"session_id": sid})["ok"]
    assert code(call(outside, "join", {"session_id": sid})) == "forbidden"
    assert code(call(outside, "resync", {"session_id": sid, "after": 0})) == "forbidden"
    assert code(call(outside, "ask", {"session_id": sid, "text": "外支部的提问"})) == "forbidden"
    assert rows(app, LiveQuestion, session_id=sid) == 0

    received(outside)
    call(inside, "ask", {"session_id": sid, "text": "支部内的提问"})
    assert received(outside) == []  # refused joins put the socket in no room
    assert [e["kind"] for e in received(hosting)] == ["question"]


FORGED = [
    (None, "bad_request"),
    ("7", "bad_request"),
    ([1], "bad_request"),
    ({}, "bad_request"),
    ({"session_id": "1"}, "session_not_found"),
    ({"session_id": 1.0}, "session_not_found"),
    ({"session_id": True}, "session_not_found"),
    ({"session_id": -1}, "session_not_found"),
    ({"session_id": 0}, "session_not_found"),
    ({"session_id": 2**31}, "session_not_found"),
    ({"session_id": 10**40}, "session_not_found"),
    ({"session_id": 999_999}, "session_not_found"),
    ({"session_id": "1 OR 1=1"}, "session_not_found"),
]


def test_forged_session_ids_are_refused_cleanly(app, sock, make_session, people):
    from forum.live.models import LiveQuestion

    make_session([people["host"]], audience="public")
    member = sock("s_asker")
    for payload, expected in FORGED:
        assert code(call(member, "join", payload)) == expected, payload
        for event, extra in (("resync", {"after": 0}), ("ask", {"text": "一个问题？"})):
            data = {**payload, **extra} if isinstance(payload, dict) else payload
            assert code(call(member, event, data)) == expected, (event, payload)
    assert rows(app, LiveQuestion) == 0


def test_bad_shapes_and_texts(app, sock, make_session, people):
    from forum.live.models import LiveEvent, LiveQuestion

    sid = make_session([people["host"]])
    member, host = sock("s_asker"), sock("s_host")
    assert code(call(member, "ask", {"session_id": sid, "text": 42})) == "bad_request"
    assert code(call(member, "ask", {"session_id": sid, "text": "好问题", "anonymous": "yes"})) == "bad_request"
    assert code(call(member, "ask", {"session_id": sid, "text": " \u200b "})) == "too_short"
    assert code(call(member, "ask", {"session_id": sid, "text": "问" * 5000})) == "too_long"
    for forged in ("1", 1.5, None, 2**63, -3):
        assert code(call(member, "vote", {"question_id": forged})) in {"question_not_found", "bad_request"}
        assert code(call(host, "approve", {"question_id": forged})) in {"question_not_found", "bad_request"}
    assert code(call(host, "dismiss", {"question_id": 1, "reason": ["x"]})) == "bad_request"
    assert code(call(host, "highlight", {"question_id": None})) == "bad_request"  # clearing names the session
    assert rows(app, LiveQuestion, session_id=sid) == 0 and rows(app, LiveEvent, session_id=sid) == 0


def test_one_vote_per_member_and_none_on_pending(app, sock, make_session, people):
    from forum.live.models import LiveQuestion, LiveVote

    sid = make_session([people["host"]])
    asker, other, host = sock("s_asker"), sock("s_other"), sock("s_host")
    qid = call(asker, "ask", {"session_id": sid, "text": "党费怎么算？"})["question"]["id"]
    assert code(call(other, "vote", {"question_id": qid})) == "question_not_open"
    assert code(call(other, "vote", {"question_id": qid, "session_id": sid + 1})) == "question_not_found"
    assert call(host, "approve", {"question_id": qid})["ok"]
    assert call(other, "vote", {"question_id": qid})["votes"] == 1
    assert code(call(other, "vote", {"question_id": qid})) == "already_voted"
    assert rows(app, LiveVote, question_id=qid) == 1 and load(app, LiveQuestion, qid).votes == 1
    assert call(other, "unvote", {"question_id": qid}) == {"ok": True, "question_id": qid, "votes": 0, "voted": False}
    assert code(call(other, "unvote", {"question_id": qid})) == "not_voted"


def test_host_actions_from_a_non_host_write_nothing(app, sock, make_session, people):
    from forum.live.models import LiveEvent, LiveQuestion, LiveSession

    sid = make_session([people["host"]])
    asker, other = sock("s_asker"), sock("s_other")
    qid = call(asker, "ask", {"session_id": sid, "text": "谁来回答？"})["question"]["id"]
    for event, extra in [
        ("approve", {}),
        ("approve", {"text": "改过的问题"}),
        ("dismiss", {"reason": "重复"}),
        ("answer", {"answer": "我来答"}),
        ("reopen", {}),
        ("highlight", {}),
    ]:
        for client in (asker, other):
            assert code(call(client, event, {"question_id": qid, **extra})) == "forbidden", (event, extra)
    assert code(call(other, "highlight", {"question_id": None, "session_id": sid})) == "forbidden"
    q = load(app, LiveQuestion, qid)
    assert (q.status.value, q.text, q.answer) == ("pending", "谁来回答？", "")
    assert rows(app, LiveEvent, session_id=sid) == 1 and load(app, LiveSession, sid).highlighted_id is None


def test_closed_session_refuses_every_event_but_can_be_watched(app, sock, make_session, people):
    from sqlalchemy import update

    from dangxiao.transactions import atomic
    from forum.live.models import LiveEvent, LiveSession, SessionStatus

    sid = make_session([people["host"]], moderation="auto")
    asker, host = sock("s_asker"), sock("s_host")
    qid = call(asker, "ask", {"session_id": sid, "text": "会后还能提问吗？"})["question"]["id"]
    with app.app_context(), atomic():
        db.session.execute(update(LiveSession).where(LiveSession.id == sid).values(status=SessionStatus.closed))
    before = rows(app, LiveEvent, session_id=sid)
    assert code(call(asker, "ask", {"session_id": sid, "text": "再问一个"})) == "session_not_live"
    assert code(call(sock("s_other"), "vote", {"question_id": qid})) == "session_not_live"
    for event, extra in [("answer", {"answer": "可以"}), ("dismiss", {"reason": "结束"}), ("highlight", {})]:
        assert code(call(host, event, {"question_id": qid, **extra})) == "session_not_live", event
    assert rows(app, LiveEvent, session_id=sid) == before
    assert call(asker, "join", {"session_id": sid})["state"]["status"] == "closed"


def test_resync_from_a_bad_number_is_refused_and_joins_nothing(app, sock, make_session, people):
    sid = make_session([people["host"]], moderation="auto")
    asker = sock("s_asker")
    call(asker, "ask", {"session_id": sid, "text": "第一个问题"})
    watcher = sock("s_other")
    for after in (-1, 2, 10**30, "0", 0.5, True):
        assert code(call(watcher, "resync", {"session_id": sid, "after": after})) == "seq_invalid", after
        assert code(call(watcher, "join", {"session_id": sid, "after": after})) == "seq_invalid", after
    assert code(call(watcher, "resync", {"session_id": sid})) == "bad_request"
    received(watcher)
    call(host := sock("s_host"), "join", {"session_id": sid})
    call(host, "highlight", {"question_id": None, "session_id": sid})
    assert received(watcher) == []  # none of the refused calls left it in the room
    assert [e["seq"] for e in call(watcher, "resync", {"session_id": sid, "after": 0})["events"]] == [1, 2]
    assert call(watcher, "resync", {"session_id": sid, "after": 2})["events"] == []


def test_a_hundred_questions_in_a_second_from_one_socket(app, sock, make_session, people):
    from forum.live.models import LiveQuestion

    app.config["LIVE_ASK_RATE"] = "1 per 30 second"
    sid = make_session([people["host"]])
    asker = sock("s_asker")
    codes = [code(call(asker, "ask", {"session_id": sid, "text": f"刷屏的问题 {n}"})) for n in range(100)]
    assert codes.count(None) == 1 and codes.count("rate_limited") == 99
    assert rows(app, LiveQuestion, session_id=sid) == 1


def test_changing_hosts_or_audience_moves_every_socket_to_fresh_rooms(app, sock, create_branch, create_user):
    """A demoted host or a member outside a narrowed audience keeps a socket that receives nothing
    more; a fresh join asks the policy again."""
    from forum.live import sessions
    from forum.live.models import LiveSession
    from tests.forum.live.test_sessions import as_user, build_world, fields

    with app.app_context():
        world = build_world(create_branch, create_user)
        sid = as_user(world["secretary"], sessions.create_session, **fields(world)).id
        as_user(world["secretary"], sessions.start, sid)
    names = ("secretary", "cohost", "zhangsan", "wangwu")
    clients = {name: sock(name) for name in names}
    for client in clients.values():
        assert call(client, "join", {"session_id": sid})["ok"]
        received(client)

    with app.app_context():  # an edit that changes nobody's access moves nothing
        as_user(world["secretary"], sessions.update_session, sid, **fields(world, title="改过的标题"))
    assert all(received(c) == [] for c in clients.values()) and load(app, LiveSession, sid).rooms_rev == 0

    with app.app_context():  # cohost no longer a host, the audience narrowed to 东街村党支部
        change = fields(world, hosts="", audience="branch", branch_id=str(world["east"]))
        as_user(world["secretary"], sessions.update_session, sid, **change)
    seen = {name: [(e["kind"], e["seq"]) for e in received(c)] for name, c in clients.items()}
    assert set(map(tuple, seen.values())) == {(("access", 2),)}, seen
    assert load(app, LiveSession, sid).rooms_rev == 1

    asked = call(clients["zhangsan"], "ask", {"session_id": sid, "text": "党费按什么标准交纳？"})
    assert asked["ok"]
    assert all(received(clients[name]) == [] for name in ("secretary", "cohost", "wangwu"))  # old rooms

    assert code(call(clients["wangwu"], "join", {"session_id": sid})) == "forbidden"
    demoted = call(clients["cohost"], "join", {"session_id": sid})
    assert demoted["state"]["is_host"] is False and demoted["state"]["questions"] == []
    host = call(clients["secretary"], "join", {"session_id": sid})
    assert host["state"]["is_host"] and [q["id"] for q in host["state"]["questions"]] == [asked["question"]["id"]]

    assert call(clients["secretary"], "approve", {"question_id": asked["question"]["id"]})["ok"]
    for name in ("secretary", "cohost"):
        assert [e["question"]["status"] for e in received(clients[name])] == ["approved"]
    assert received(clients["wangwu"]) == []
