"""Closing archives the answered questions as one 答疑实录 topic; the CSV export for hosts."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dangxiao.accounts.models import User
from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from forum.live import archive, sessions
from forum.live.models import LiveQuestion, LiveSession, QuestionStatus, SessionStatus
from forum.models import Post, PostState, Topic
from forum.moderation import rules
from tests.forum.live.test_sessions import as_user, build_world, create


@pytest.fixture
def world(ctx, create_branch, create_user):
    return build_world(create_branch, create_user)


def add_question(sid: int, author: int, text: str, *, status="answered", votes=0, answer="", anonymous=False, by=None):
    with atomic():
        now = utcnow()
        q = LiveQuestion(
            session_id=sid,
            author_id=author,
            text=text,
            status=QuestionStatus(status),
            votes=votes,
            answer=answer,
            anonymous=anonymous,
            answered_by_id=by if status == "answered" else None,
            answered_at=now if status == "answered" else None,
            created_at=now - timedelta(minutes=10),
        )
        db.session.add(q)
        db.session.flush()
        return q.id


def topics_in(board_id: int) -> list[Topic]:
    return list(db.session.scalars(select(Topic).where(Topic.board_id == board_id)))


def test_close_archives_answered_questions_in_vote_order(world):
    sid = create(world)
    as_user(world["secretary"], sessions.start, sid)
    host = world["secretary"]
    add_question(
        sid, world["east_member"], "发展党员要经过哪些步骤？", votes=2, answer="五个阶段。\n二十五个步骤。", by=host
    )
    add_question(
        sid, world["west_member"], "流动党员怎么交党费？", votes=7, answer="可以在线交纳。", anonymous=True, by=host
    )
    add_question(sid, world["other_member"], "还没回答的问题一", status="approved", votes=9)
    add_question(sid, world["other_member"], "待审核的问题二", status="pending")

    closed = as_user(world["cohost"], sessions.close, sid)

    assert closed.answered == 2 and not closed.held and "已发布" in closed.note
    db.session.expire_all()
    session = db.session.get(LiveSession, sid)
    assert session.status == SessionStatus.closed
    [topic] = topics_in(world["board"])
    assert session.archive_topic_id == topic.id == closed.topic_id
    assert topic.title == "答疑实录：“三会一课”学习答疑"
    assert topic.author_id == world["cohost"] and topic.state == PostState.published  # the closing host
    body = db.session.get(Post, topic.first_post_id).body
    assert body.index("流动党员怎么交党费") < body.index("发展党员要经过哪些步骤")  # 7 votes before 2
    assert "可以在线交纳。" in body and "五个阶段。" in body and "二十五个步骤。" in body
    assert "张三" in body  # a named asker is named
    assert "李四" not in body and "匿名" in body  # an anonymous one is not
    assert "还没回答" not in body and "待审核" not in body


def test_close_with_nothing_answered_makes_no_topic(world):
    sid = create(world)
    as_user(world["secretary"], sessions.start, sid)
    add_question(sid, world["east_member"], "一个没回答的问题", status="approved")
    closed = as_user(world["secretary"], sessions.close, sid)
    assert closed.topic_id is None and "未生成答疑实录" in closed.note
    db.session.expire_all()
    assert db.session.get(LiveSession, sid).status == SessionStatus.closed
    assert topics_in(world["board"]) == []


def test_a_board_that_refuses_or_holds_the_topic_still_closes_the_session(world):
    with atomic():
        rules.add_rule(SYSTEM, "违禁词", "block", "forum")
        rules.add_rule(SYSTEM, "待查词", "review", "forum")
    refused_sid = create(world, title="第一场答疑")
    add_question(refused_sid, world["east_member"], "问题甲", answer="答案含违禁词。", by=world["secretary"])
    closed = as_user(world["secretary"], sessions.close, refused_sid)
    assert closed.topic_id is None and "未能发布" in closed.note and "违禁词" in closed.note

    held_sid = create(world, title="第二场答疑")
    add_question(held_sid, world["east_member"], "问题乙", answer="答案含待查词。", by=world["secretary"])
    closed = as_user(world["secretary"], sessions.close, held_sid)
    assert closed.held and "审核" in closed.note

    db.session.expire_all()
    assert {db.session.get(LiveSession, s).status for s in (refused_sid, held_sid)} == {SessionStatus.closed}
    [topic] = topics_in(world["board"])  # only the held one: the refused topic left nothing behind
    assert topic.state == PostState.held and db.session.get(LiveSession, held_sid).archive_topic_id == topic.id
    assert db.session.get(LiveSession, refused_sid).archive_topic_id is None


def test_archive_title_is_shortened_to_fit_a_forum_title(world):
    sid = create(world, title="长" * 90)
    add_question(sid, world["east_member"], "问题丙", answer="回答丙。", by=world["secretary"])
    as_user(world["secretary"], sessions.close, sid)
    [topic] = topics_in(world["board"])
    assert topic.title.startswith("答疑实录：长") and topic.title.endswith("…") and len(topic.title) <= 60


def test_export_csv_for_hosts_only(world):
    sid = create(world)
    add_question(sid, world["east_member"], '=HYPERLINK("http://x")', status="pending")
    add_question(sid, world["west_member"], "匿名的问题", answer="-1 是个数", anonymous=True, by=world["cohost"])

    data = as_user(world["cohost"], archive.export_csv, sid)

    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["编号", "状态", "问题"]
    assert rows[1][1] == "待审核" and rows[1][2] == '\'=HYPERLINK("http://x")'
    assert rows[2][4] == "李四" and rows[2][6] == "是"  # hosts see who asked anonymously
    assert rows[2][8] == "'-1 是个数" and rows[2][9] == "王老师"
    for user in ("east_member", "west_member"):
        with pytest.raises(DomainError) as caught, atomic():
            archive.export_csv(db.session.get(User, world[user]), sid)
        assert caught.value.status == 403
    assert db.session.scalar(select(func.count()).select_from(Topic)) == 0
