"""Asking, voting and the hosts' actions: what is stored, who sees it, and every refusal writes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic


@pytest.fixture
def app_config(app_config):
    app_config["LIVE_ASK_RATE"] = "1000 per second"  # the rate-limit test sets the real one
    return app_config


def _counts(session_id: int) -> tuple[int, int, int]:
    from forum.live.models import LiveEvent, LiveQuestion, LiveSession

    questions = db.session.scalar(select(func.count()).where(LiveQuestion.session_id == session_id))
    events = db.session.scalar(select(func.count()).where(LiveEvent.session_id == session_id))
    return questions, events, db.session.get(LiveSession, session_id).seq


def _events(session_id: int):
    from forum.live.models import LiveEvent

    return db.session.scalars(select(LiveEvent).where(LiveEvent.session_id == session_id).order_by(LiveEvent.seq)).all()


def _add_rule(word: str, action: str) -> None:
    from forum.moderation import rules

    with atomic():
        rules.add_rule(SYSTEM, word, action, scope="live")


def test_asked_question_is_held_for_the_hosts_and_shown_only_to_its_asker(ctx, act, make_session, live_people):
    from forum.live import events, questions
    from forum.live.models import LiveSession, QuestionStatus

    p = live_people
    sid = make_session([p["host"]])
    q = act(p["asker"], questions.ask, sid, "  入党积极分子\u200b多久可以转为发展对象？ ")
    assert (q.status, q.text, q.votes) == (QuestionStatus.pending, "入党积极分子多久可以转为发展对象？", 0)
    [event] = _events(sid)
    assert (event.seq, event.kind, event.audience) == (1, "question", f"user:{p['asker']}")
    assert event.payload["question"]["status"] == "pending" and event.payload["session_id"] == sid

    session = db.session.get(LiveSession, sid)
    assert [e["seq"] for e in act(p["asker"], events.events_after, session, 0)] == [1]
    assert [e["seq"] for e in act(p["host"], events.events_after, session, 0)] == [1]
    assert act(p["other"], events.events_after, session, 0) == []
    assert act(p["other"], events.state, session)["questions"] == []
    [mine] = act(p["asker"], events.state, session)["questions"]
    assert mine["mine"] and mine["status"] == "pending"


def test_auto_mode_approves_clean_text_and_holds_what_the_engine_reviews(ctx, act, make_session, live_people):
    from forum.live import questions
    from forum.live.models import QuestionStatus

    _add_rule("敏感话题", "review")
    _add_rule("笨蛋", "censor")
    p = live_people
    sid = make_session([p["host"]], moderation="auto")
    clean = act(p["asker"], questions.ask, sid, "三会一课怎么记录？")
    held = act(p["asker"], questions.ask, sid, "能聊聊敏感话题吗？")
    masked = act(p["other"], questions.ask, sid, "我是不是笨蛋")
    assert clean.status == masked.status == QuestionStatus.approved
    assert held.status == QuestionStatus.pending
    assert masked.text == "我是不是＊＊"
    assert [(e.audience, e.payload["question"]["id"]) for e in _events(sid)] == [
        ("all", clean.id),
        (f"user:{p['asker']}", held.id),
        ("all", masked.id),
    ]


@pytest.mark.parametrize(
    "text, code",
    [
        ("字" * 301, "too_long"),
        ("字" * 5000, "too_long"),
        ("", "too_short"),
        ("\u200b\u200d \ufeff\n", "too_short"),
        ("问", "too_short"),
        (None, "too_short"),
        (["列表"], "text_invalid"),
        ("老师，哪里能买到代考服务", "blocked"),
    ],
)
def test_refused_questions_write_nothing(ctx, act, make_session, live_people, text, code):
    from forum.live import questions

    _add_rule("代考", "block")
    sid = make_session([live_people["host"]], moderation="auto")
    with pytest.raises(DomainError) as refused:
        act(live_people["asker"], questions.ask, sid, text)
    assert refused.value.code == code
    if code == "blocked":
        assert "代考" in refused.value.message
    assert _counts(sid) == (0, 0, 0)


def test_a_hundred_questions_in_a_second_only_the_first_is_taken(app, ctx, act, make_session, live_people):
    from forum.live import questions

    app.config["LIVE_ASK_RATE"] = "1 per 30 second"
    sid = make_session([live_people["host"]])
    codes = []
    for n in range(100):
        try:
            act(live_people["asker"], questions.ask, sid, f"第{n}个问题？")
            codes.append("ok")
        except DomainError as e:
            codes.append((e.code, e.status))
    assert codes == ["ok"] + [("rate_limited", 429)] * 99
    assert _counts(sid) == (1, 1, 1)
    act(live_people["other"], questions.ask, sid, "另一位党员的问题")  # the limit is per member


def test_one_vote_per_member_on_open_questions_only(ctx, act, make_session, live_people):
    from forum.live import questions
    from forum.live.models import LiveQuestion, LiveVote

    p = live_people
    sid = make_session([p["host"]], moderation="auto")
    other_sid = make_session([p["host"]], moderation="auto")
    qid = act(p["asker"], questions.ask, sid, "党费按什么标准交？").id
    pending_id = act(p["asker"], questions.ask, make_session([p["host"]]), "还在审核的问题").id

    assert act(p["other"], questions.vote, qid) == 1
    assert act(p["asker"], questions.vote, qid, session_id=sid) == 2
    for user, call, args, code in [
        (p["other"], questions.vote, (qid,), "already_voted"),
        (p["other"], questions.vote, (pending_id,), "question_not_open"),
        (p["other"], questions.vote, (qid, other_sid), "question_not_found"),
        (p["other"], questions.vote, (10**12,), "question_not_found"),
        (p["other"], questions.vote, ("1",), "question_not_found"),
        (None, questions.vote, (qid,), "forbidden"),
    ]:
        with pytest.raises(DomainError) as refused:
            act(user, call, *args)
        assert refused.value.code == code
    assert act(p["other"], questions.unvote, qid) == 1
    with pytest.raises(DomainError, match="还没有"):
        act(p["other"], questions.unvote, qid)
    assert act(p["other"], questions.vote, qid) == 2

    rows = db.session.scalar(select(func.count()).select_from(LiveVote).where(LiveVote.question_id == qid))
    assert db.session.get(LiveQuestion, qid).votes == rows == 2
    votes_events = [e.payload for e in _events(sid) if e.kind == "votes"]
    assert [(e["question_id"], e["votes"]) for e in votes_events] == [(qid, 1), (qid, 2), (qid, 1), (qid, 2)]


def test_host_actions_are_refused_to_members_and_to_closed_sessions(ctx, act, make_session, live_people):
    from forum.live import questions
    from forum.live.models import LiveSession, SessionStatus

    p = live_people
    sid = make_session([p["host"]], moderation="auto")
    qid = act(p["asker"], questions.ask, sid, "可以请假不参加组织生活吗？").id
    pending_id = act(p["asker"], questions.ask, make_session([p["host"]]), "待审核").id
    host_calls = [
        (questions.approve, (pending_id,)),
        (questions.dismiss, (qid, "重复")),
        (questions.highlight, (qid,)),
        (questions.answer, (qid, "可以")),
        (questions.reopen, (qid,)),
    ]
    before = _counts(sid)
    for call, args in host_calls:
        with pytest.raises(Forbidden):
            act(p["asker"], call, *args)
    assert _counts(sid) == before

    with atomic():
        db.session.execute(update(LiveSession).where(LiveSession.id == sid).values(status=SessionStatus.closed))
    member_calls = [(p["asker"], questions.ask, (sid, "会后还能问吗？")), (p["other"], questions.vote, (qid,))]
    for user, call, args in member_calls + [(p["host"], c, a) for c, a in host_calls[1:]]:
        with pytest.raises(DomainError) as refused:
            act(user, call, *args)
        assert refused.value.code == "session_not_live"
    scheduled = make_session([p["host"]], status="scheduled")
    with pytest.raises(DomainError, match="尚未开始"):
        act(p["asker"], questions.ask, scheduled, "提前提问")
    assert _counts(sid) == before


def test_hosts_moderate_anonymous_questions_and_the_audience_never_sees_the_name(ctx, act, make_session, live_people):
    from forum.live import events, questions
    from forum.live.models import LiveEvent, LiveSession, QuestionStatus

    _add_rule("傻瓜", "censor")
    p = live_people
    sid = make_session([p["host"]], allow_anonymous=True)
    qid = act(p["asker"], questions.ask, sid, "组织关系怎么转？", anonymous=True).id
    q = act(p["host"], questions.approve, qid, "组织关系转接怎么办理？")
    assert (q.status, q.text, q.original_text) == (
        QuestionStatus.approved,
        "组织关系转接怎么办理？",
        "组织关系怎么转？",
    )
    with pytest.raises(DomainError) as twice:  # a second host clicking approve
        act(p["host"], questions.approve, qid)
    assert twice.value.code == "question_state"

    session = db.session.get(LiveSession, sid)
    assert act(p["host"], questions.highlight, qid) == qid
    seen_by_other = json.dumps(
        [act(p["other"], events.events_after, session, 0), act(p["other"], events.state, session)], ensure_ascii=False
    )
    assert "提问人小李" not in seen_by_other and "匿名" in seen_by_other
    host_state = act(p["host"], events.state, session)
    assert host_state["questions"][0]["author"] == "提问人小李" and host_state["questions"][0]["anonymous"]
    assert host_state["highlighted_id"] == qid
    assert act(p["asker"], events.state, session)["questions"][0]["mine"]

    act(p["host"], questions.dismiss, qid, "与主题无关")
    kinds = [(e.kind, e.audience) for e in _events(sid)][-3:]
    assert kinds == [("removed", "all"), ("highlight", "all"), ("question", f"user:{p['asker']}")]
    assert db.session.get(LiveSession, sid).highlighted_id is None
    assert act(p["other"], events.state, session)["questions"] == []
    [dismissed] = act(p["asker"], events.state, session)["questions"]
    assert (dismissed["status"], dismissed["dismiss_reason"]) == ("dismissed", "与主题无关")

    act(p["host"], questions.reopen, qid)
    q = act(p["host"], questions.answer, qid, "带上介绍信，别当傻瓜。")
    assert (q.status, q.answer, q.dismiss_reason) == (QuestionStatus.answered, "带上介绍信，别当＊＊。", "")
    [answered] = act(p["other"], events.state, session)["questions"]
    assert (answered["status"], answered["author"], "dismiss_reason" in answered) == ("answered", "匿名", False)

    # Every change took the next number: 1…seq, no gap, no repeat.
    seqs = db.session.scalars(select(LiveEvent.seq).where(LiveEvent.session_id == sid).order_by(LiveEvent.seq)).all()
    assert seqs == list(range(1, db.session.get(LiveSession, sid).seq + 1)) and len(seqs) > 8
