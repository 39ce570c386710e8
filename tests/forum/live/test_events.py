"""The event log: gap-free numbers, broadcasts only after the commit, resync that shows each viewer
only what they may see, and refusals of numbers from the future, negative or not numbers at all."""

from __future__ import annotations

import pytest

from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db, socketio
from dangxiao.transactions import atomic


class Boom(Exception):
    pass


def test_numbers_commit_with_the_change_and_broadcasts_wait_for_the_commit(ctx, make_session, monkeypatch):
    from forum.live import events
    from forum.live.models import LiveEvent, LiveSession

    sent = []
    monkeypatch.setattr(socketio, "emit", lambda event, data, to, namespace: sent.append((event, data, to, namespace)))
    sid = make_session([])
    with atomic():
        first = events.record(sid, "highlight", {"question_id": None})
        events.record(sid, "status", {"status": "live", "label": "进行中"}, "hosts")
        events.record(sid, "question", {"question": {"id": 7}}, "user:42")
        assert sent == []  # nothing leaves before the commit
        assert db.session.get(LiveSession, sid).seq == 3
    assert first.payload == {"question_id": None, "seq": 1, "kind": "highlight", "session_id": sid}
    assert [(to, data["seq"]) for _event, data, to, _ns in sent] == [
        (f"live:{sid}.0", 1),
        (f"live:{sid}.0:hosts", 2),
        ([f"live:{sid}.0:hosts", f"live:{sid}.0:u:42"], 3),
    ]
    assert {(event, ns) for event, _data, _to, ns in sent} == {("live_event", "/live")}

    with pytest.raises(Boom), atomic():  # a rolled-back change gives its number back, sends nothing
        events.record(sid, "highlight", {"question_id": 1})
        raise Boom
    with atomic():
        assert events.next_seq(sid) == 4
    assert len(sent) == 3
    assert db.session.query(LiveEvent.seq).filter_by(session_id=sid).order_by(LiveEvent.seq).all() == [(1,), (2,), (3,)]


def test_resync_sends_each_viewer_only_their_events(ctx, act, make_session, create_user, live_people):
    from forum.live import events
    from forum.live.models import LiveSession

    p = live_people
    sid = make_session([p["host"]])
    public_sid = make_session([p["host"]], audience="public")
    with atomic():
        for audience in ("all", "hosts", f"user:{p['asker']}", "all", f"user:{p['other']}"):
            events.record(sid, "highlight", {"question_id": None}, audience)
        events.record(public_sid, "highlight", {"question_id": None})
    session, public = db.session.get(LiveSession, sid), db.session.get(LiveSession, public_sid)

    def seqs(user, s, after=0):
        return [e["seq"] for e in act(user, events.events_after, s, after)]

    assert seqs(p["host"], session) == [1, 2, 3, 4, 5]
    assert seqs(p["asker"], session) == [1, 3, 4]
    assert seqs(p["other"], session) == [1, 4, 5]
    assert seqs(p["asker"], session, 3) == [4]
    assert seqs(p["asker"], session, 5) == []
    assert seqs(None, public) == [1]  # an anonymous visitor of a public session
    with pytest.raises(Forbidden):
        act(None, events.events_after, session, 0)
    admin = create_user("live_admin", roles=("admin",))
    assert seqs(admin, session) == [1, 2, 3, 4, 5]  # admins may host any session


@pytest.mark.parametrize("after", [-1, 6, 10**30, "3", None, True, 1.0, [1]])
def test_resync_refuses_numbers_it_never_sent(ctx, act, make_session, live_people, after):
    from forum.live import events
    from forum.live.models import LiveSession

    sid = make_session([live_people["host"]])
    with atomic():
        for _ in range(5):
            events.record(sid, "highlight", {"question_id": None})
    with pytest.raises(DomainError) as refused:
        act(live_people["asker"], events.events_after, db.session.get(LiveSession, sid), after)
    assert refused.value.code == "seq_invalid"


def test_a_client_that_missed_too_much_gets_a_fresh_snapshot(app, ctx, act, make_session, live_people):
    from forum.live import events, questions
    from forum.live.models import LiveSession

    app.config["LIVE_RESYNC_MAX"] = 3
    p = live_people
    sid = make_session([p["host"]], moderation="auto")
    qid = act(p["asker"], questions.ask, sid, "发展党员要经过哪些步骤？").id
    act(p["other"], questions.vote, qid)
    act(p["host"], questions.highlight, qid)
    with atomic():
        events.record(sid, "hosts_only", {}, "hosts")  # invisible to members: does not count for them
    session = db.session.get(LiveSession, sid)
    assert [e["kind"] for e in act(p["other"], events.events_after, session, 0)] == ["question", "votes", "highlight"]
    act(p["asker"], questions.vote, qid)

    reset = act(p["other"], events.events_after, session, 0)
    assert reset["reset"] is True
    snapshot = reset["snapshot"]
    assert (snapshot["seq"], snapshot["highlighted_id"], snapshot["my_votes"]) == (5, qid, [qid])
    [q] = snapshot["questions"]
    assert (q["id"], q["votes"], q["voted"], q["mine"]) == (qid, 2, True, False)
    assert [e["seq"] for e in act(p["other"], events.events_after, session, 1)] == [2, 3, 5]
