"""Session lifecycle on SQLite and PostgreSQL: validated create/edit, start and close by one
conditional UPDATE each, and the list each viewer may see."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dangxiao.accounts.models import User
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum.live import sessions
from forum.live.models import LiveEvent, LiveHost, LiveSession, SessionStatus
from forum.models import Board, PostAccess, PostState, Topic

# --- helpers shared by the live session tests (imported by test_archive / test_session_views) ----


def make_board(name: str, **fields) -> int:
    with atomic():
        board = Board(name=name, **fields)
        db.session.add(board)
        db.session.flush()
        return board.id


def build_world(create_branch, create_user) -> dict[str, int]:
    """A county: a general branch with two branches, a secretary of the general branch, members, boards."""
    general = create_branch("城关镇党总支", kind="general_branch")
    east = create_branch("东街村党支部", parent=general)
    west = create_branch("西街村党支部", parent=general)
    other = create_branch("青山乡党支部")
    return {
        "general": general,
        "east": east,
        "west": west,
        "other": other,
        "secretary": create_user(
            "secretary", roles=["member", ("branch_secretary", general)], branch=east, display_name="李书记"
        ),
        "cohost": create_user("cohost", branch=east, display_name="王老师"),
        "east_member": create_user("zhangsan", branch=east, display_name="张三"),
        "west_member": create_user("lisi", branch=west, display_name="李四"),
        "other_member": create_user("wangwu", branch=other, display_name="王五"),
        "admin": create_user("boss", roles=["admin"], display_name="老赵"),
        "board": make_board("学习心得"),
        "closed_board": make_board("时政信息", post_access=PostAccess.moderators),
    }


@pytest.fixture
def world(ctx, create_branch, create_user):
    return build_world(create_branch, create_user)


def fields(world, **overrides):
    values = {
        "title": "“三会一课”学习答疑",
        "description": "围绕本月学习内容答疑。",
        "hosts": "cohost",
        "board_id": str(world["board"]),
        "starts_at": "2026-03-01T10:00",
        "ends_at": "2026-03-01T11:30",
        "moderation": "approve_all",
        "allow_anonymous": "1",
        "audience": "members",
        "branch_id": "",
    }
    values.update(overrides)
    return values


def as_user(user_id, fn, *args, **kw):
    with atomic():
        return fn(db.session.get(User, user_id), *args, **kw)


def create(world, user="secretary", **overrides) -> int:
    return as_user(world[user], sessions.create_session, **fields(world, **overrides)).id


def refused(code: str, fn, *args, **kw) -> DomainError:
    with pytest.raises(DomainError) as caught, atomic():
        fn(*args, **kw)
    assert caught.value.code == code, caught.value.message
    return caught.value


def session_count() -> int:
    return db.session.scalar(select(func.count()).select_from(LiveSession))


# --- create / edit -----------------------------------------------------------------------------


def test_create_stores_hosts_and_local_times(world):
    sid = create(world, hosts="@cohost、zhangsan, cohost", audience="branch", branch_id=str(world["west"]))
    db.session.expire_all()
    s = db.session.get(LiveSession, sid)
    hosts = [h.user_id for h in sorted(s.hosts, key=lambda h: h.id)]
    assert hosts == [world["secretary"], world["cohost"], world["east_member"]]  # creator first, each once
    assert s.status == SessionStatus.scheduled and s.created_by_id == world["secretary"]
    assert s.starts_at.replace(tzinfo=UTC) == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 北京时间
    assert s.branch_id == world["west"] and s.allow_anonymous is True


def test_create_refusals_write_nothing(world):
    secretary = db.session.get(User, world["secretary"])
    cases = [
        ("host_unknown", fields(world, hosts="cohost nobody、ghost")),
        ("ends_before_start", fields(world, ends_at="2026-03-01T09:00")),
        ("board_forbidden", fields(world, board_id=str(world["closed_board"]))),
        ("board_required", fields(world, board_id="")),
        ("branch_out_of_scope", fields(world, audience="branch", branch_id=str(world["other"]))),
        ("branch_required", fields(world, audience="branch")),
        ("title_short", fields(world, title="问")),
        ("starts_at_invalid", fields(world, starts_at="明天上午")),
    ]
    for code, values in cases:
        error = refused(code, sessions.create_session, secretary, **values)
        if code == "host_unknown":
            assert "nobody" in error.message and "ghost" in error.message and "cohost" not in error.message
    member = db.session.get(User, world["east_member"])
    with pytest.raises(DomainError) as caught, atomic():
        sessions.create_session(member, **fields(world))
    assert caught.value.status == 403
    assert session_count() == 0
    assert db.session.scalar(select(func.count()).select_from(LiveHost)) == 0
    # an admin may open a session for any branch
    sid = create(world, user="admin", audience="branch", branch_id=str(world["other"]))
    assert db.session.get(LiveSession, sid).branch_id == world["other"]


def test_update_keeps_creator_and_refuses_closed(world):
    sid = create(world)
    as_user(world["cohost"], sessions.update_session, sid, **fields(world, title="改过的标题", hosts="zhangsan"))
    db.session.expire_all()
    s = db.session.get(LiveSession, sid)
    assert s.title == "改过的标题"
    assert {h.user_id for h in s.hosts} == {world["secretary"], world["east_member"]}  # creator kept
    refused("forbidden", sessions.update_session, db.session.get(User, world["west_member"]), sid, **fields(world))
    as_user(world["secretary"], sessions.close, sid)
    refused("session_closed", sessions.update_session, db.session.get(User, world["secretary"]), sid, **fields(world))


# --- start / close ------------------------------------------------------------------------------


def test_start_once_then_close_once(world):
    sid = create(world)
    as_user(world["cohost"], sessions.start, sid)
    refused("session_not_scheduled", sessions.start, db.session.get(User, world["secretary"]), sid)
    refused("forbidden", sessions.start, db.session.get(User, world["east_member"]), sid)
    closed = as_user(world["secretary"], sessions.close, sid)
    assert closed.topic_id is None and "没有已回答的问题" in closed.note
    refused("session_closed", sessions.close, db.session.get(User, world["cohost"]), sid)
    refused("session_not_scheduled", sessions.start, db.session.get(User, world["cohost"]), sid)
    db.session.expire_all()
    s = db.session.get(LiveSession, sid)
    assert s.status == SessionStatus.closed and s.started_at and s.closed_at
    events = db.session.execute(
        select(LiveEvent.seq, LiveEvent.kind, LiveEvent.payload).where(LiveEvent.session_id == sid)
    ).all()
    assert [(seq, kind, p["status"]) for seq, kind, p in events] == [(1, "status", "live"), (2, "status", "closed")]
    assert s.seq == 2


def test_a_scheduled_session_may_be_closed(world):
    sid = create(world)
    as_user(world["secretary"], sessions.close, sid)
    db.session.expire_all()
    assert db.session.get(LiveSession, sid).status == SessionStatus.closed


# --- the list ----------------------------------------------------------------------------------


def test_visible_sessions_filters_by_audience(world):
    from flask_login import AnonymousUserMixin

    public = create(world, title="公开答疑", audience="public")
    members = create(world, title="党员答疑")
    branch = create(world, title="西街支部答疑", audience="branch", branch_id=str(world["west"]))
    as_user(world["secretary"], sessions.start, members)

    def seen(actor) -> dict[str, list[int]]:
        return {status: [row.session.id for row in rows] for status, _label, rows in sessions.visible_sessions(actor)}

    assert seen(AnonymousUserMixin()) == {"live": [], "scheduled": [public], "closed": []}
    west = db.session.get(User, world["west_member"])
    assert seen(west) == {"live": [members], "scheduled": [public, branch], "closed": []}
    east = db.session.get(User, world["east_member"])
    assert seen(east)["scheduled"] == [public]  # not the west branch's session
    other = db.session.get(User, world["other_member"])
    assert seen(other)["scheduled"] == [public]
    secretary = db.session.get(User, world["secretary"])  # a host sees it whatever the branch
    listed = {row.session.id: row for _s, _l, rows in sessions.visible_sessions(secretary) for row in rows}
    assert set(listed) == {public, members, branch}
    assert listed[branch].manage and listed[branch].host_names == ["李书记", "王老师"]
    assert not any(row.manage for _s, _l, rows in sessions.visible_sessions(west) for row in rows)


# --- demo data ---------------------------------------------------------------------------------


def test_demo_sessions_are_seeded_once(ctx, backend):
    if backend != "sqlite":
        pytest.skip("the demo is database-independent; once is enough for the suite's time")
    from dangxiao.demo import seed_demo
    from forum.demo import seed_forum
    from forum.live.demo import CLOSED_TITLE, LIVE_TITLE, SCHEDULED_TITLE, seed_live
    from forum.live.models import LiveQuestion, QuestionStatus

    seed_demo()
    seed_forum()
    assert "新增答疑 3 场" in "".join(seed_live())
    assert "新增答疑 0 场" in "".join(seed_live())
    db.session.expire_all()
    by_title = {s.title: s for s in db.session.scalars(select(LiveSession))}
    assert {t: s.status for t, s in by_title.items()} == {
        LIVE_TITLE: SessionStatus.live,
        SCHEDULED_TITLE: SessionStatus.scheduled,
        CLOSED_TITLE: SessionStatus.closed,
    }
    live = by_title[LIVE_TITLE]
    statuses = sorted(
        db.session.scalars(select(LiveQuestion.status).where(LiveQuestion.session_id == live.id)), key=str
    )
    assert statuses == sorted(
        [QuestionStatus.answered, QuestionStatus.approved, QuestionStatus.approved, QuestionStatus.pending], key=str
    )
    assert live.highlighted_id is not None and live.seq > 10
    closed = by_title[CLOSED_TITLE]
    topic = db.session.get(Topic, closed.archive_topic_id)
    assert topic.title == f"答疑实录：{CLOSED_TITLE}" and topic.state == PostState.published
