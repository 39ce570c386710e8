"""在线答疑 in Chromium: a member, a host and a projector on one session, over real Socket.IO.

The journey of the issue: a question asked is held, the host approves it, it appears on the
member's page and the projector, is upvoted (the host sees the tally) and answered; then the
member's network drops, the host approves another question meanwhile, and when the network
comes back the member's page catches up through "resync". Run once over websockets and once
with the member forced onto long-polling (``?transport=polling``, read by live.js).

The live server of tests/e2e/conftest.py is Werkzeug's threaded server; Flask-SocketIO's
"threading" mode serves both transports on it (simple-websocket takes the raw socket).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from dangxiao.accounts.models import User
from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum.live.models import Audience, LiveHost, LiveSession, ModerationMode, SessionStatus
from forum.live.sessions import update_session
from forum.models import Board, Topic
from tests.e2e.journeys import log_in
from tests.e2e.test_accessibility import AXE, violations

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FIRST = "支部换届选举的程序是什么？"
SECOND = "流动党员怎样转接组织关系？"
THIRD = "今天食堂吃什么？"
ANSWER = "先召开支部党员大会，差额选举产生新一届委员会。"


@pytest.fixture
def app_config(app_config):
    app_config["LIVE_ASK_RATE"] = "100 per minute"  # the member asks twice within seconds
    return app_config


@pytest.fixture
def new_page(browser):
    """Factory: a page in a browser context of its own (own cookies, own network switch)."""
    contexts = []

    def make():
        context = browser.new_context(locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return page

    yield make
    for context in contexts:
        context.close()


def live_session(app, host_id: int) -> int:
    """A public session, live, every question approved by the host: the projector needs no login.
    Its board receives the 答疑实录 when it closes."""
    with app.app_context(), atomic():
        board = Board(name="学习答疑")
        db.session.add(board)
        db.session.flush()
        session = LiveSession(
            board_id=board.id,
            title="学习贯彻党的二十大精神答疑",
            status=SessionStatus.live,
            moderation=ModerationMode.approve_all,
            audience=Audience.public,
            starts_at=utcnow() - timedelta(minutes=5),
            started_at=utcnow(),
            created_by_id=host_id,
        )
        session.hosts = [LiveHost(user_id=host_id)]
        db.session.add(session)
        db.session.flush()
        return session.id


def connected(page) -> None:
    expect(page.locator("#live-conn")).to_have_text("已连接")


def item(page, list_id: str, text: str):
    return page.get_by_test_id(list_id).locator("li.live-q", has_text=text)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_ask_moderate_vote_answer_and_catch_up_after_a_network_drop(app, live_server, new_page, create_user, transport):
    host_id = create_user("zhuchiren", display_name="王书记")
    create_user("dangyuan", display_name="李党员")
    sid = live_session(app, host_id)
    query = "?transport=polling" if transport == "polling" else ""

    member = new_page()
    log_in(member, live_server, "dangyuan")
    member.goto(f"{live_server}/live/{sid}{query}")
    host = new_page()
    log_in(host, live_server, "zhuchiren")
    host.goto(f"{live_server}/live/{sid}/host")
    screen = new_page()  # the projector: an anonymous visitor of a public session
    screen.goto(f"{live_server}/live/{sid}/screen")
    for page in (member, host, screen):
        connected(page)
    used = member.evaluate("() => window.dxLive.socket.io.engine.transport.name")
    assert used == transport or (transport == "websocket" and used == "polling")  # upgrade may lag
    if transport == "polling":
        assert used == "polling"

    # Asked: held for the host, shown to its asker as 待审核, nowhere else.
    member.get_by_label("您的问题").fill(FIRST)
    member.get_by_role("button", name="提交问题").click()
    expect(item(member, "live-mine", FIRST)).to_contain_text("待审核")
    pending = item(host, "live-pending", FIRST)
    expect(pending).to_contain_text("李党员")
    expect(screen.get_by_test_id("screen-questions")).not_to_contain_text(FIRST)

    # Approved: on the member's list and the projector.
    pending.get_by_role("button", name="通过").click()
    public = item(member, "live-questions", FIRST)
    expect(public).to_be_visible()
    expect(item(member, "live-mine", FIRST)).to_have_count(0)
    expect(item(screen, "screen-questions", FIRST)).to_be_visible()
    expect(host.get_by_test_id("live-pending").locator("li")).to_have_count(0)

    # Upvoted: the tally comes from the server, to everyone.
    vote = public.get_by_role("button", name="赞同")
    vote.click()
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(vote).to_contain_text("1")
    approved = item(host, "live-approved", FIRST)
    expect(approved.locator(".live-q-votes")).to_have_text("1")
    expect(item(screen, "screen-questions", FIRST)).to_contain_text("1 票")

    # Highlighted and answered.
    approved.get_by_role("button", name="设为当前问题").click()
    expect(screen.get_by_test_id("screen-highlight")).to_have_text(FIRST)
    expect(member.locator("#live-highlight")).to_contain_text(FIRST)
    approved.locator("summary", has_text="回答").click()
    approved.get_by_label("回答内容").fill(ANSWER)
    approved.get_by_role("button", name="提交回答").click()
    expect(public.locator(".live-q-answer")).to_have_text("回答：" + ANSWER)
    expect(public).to_contain_text("已回答")

    # A second question, then the member's network drops.
    member.get_by_label("您的问题").fill(SECOND)
    member.get_by_role("button", name="提交问题").click()
    second = item(host, "live-pending", SECOND)
    expect(second).to_be_visible()
    expect(item(member, "live-mine", SECOND)).to_contain_text("待审核")
    member.context.set_offline(True)
    member.evaluate("() => window.dxLive.socket.io.engine.close()")  # what a dead Wi-Fi does, sooner
    expect(member.locator("#live-conn")).to_have_text("连接已断开，正在重连…")

    second.get_by_role("button", name="通过").click()
    expect(item(screen, "screen-questions", SECOND)).to_be_visible()
    # Really cut off meanwhile: still reconnecting, and the approval has not reached the page.
    assert member.locator("#live-conn").inner_text() == "连接已断开，正在重连…"
    assert item(member, "live-questions", SECOND).count() == 0

    member.context.set_offline(False)
    expect(item(member, "live-questions", SECOND)).to_be_visible(timeout=20000)
    expect(member.locator("#live-conn")).to_have_text(re.compile(r"^已恢复，已同步 [1-9]\d* 条更新$"))
    expect(item(member, "live-mine", SECOND)).to_have_count(0)
    assert member.evaluate("() => window.dxLive.model.seq") == host.evaluate("() => window.dxLive.model.seq")

    # Not taken: the asker learns why, live; nobody else ever saw it.
    member.get_by_label("您的问题").fill(THIRD)
    member.get_by_role("button", name="提交问题").click()
    third = item(host, "live-pending", THIRD)
    third.locator("summary", has_text="不采用").click()
    third.get_by_label("原因（提问人可以看到）").fill("与本次主题无关")
    third.get_by_role("button", name="不采用").click()
    expect(item(member, "live-mine", THIRD)).to_contain_text("未采用：与本次主题无关")
    expect(item(host, "live-dismissed", THIRD)).to_be_visible()
    expect(host.locator('[data-live-tally="dismissed"]')).to_have_text("1")

    # Narrowed to logged-in members: every page joins again and is asked again; the anonymous
    # projector is refused and shows nothing more.
    with app.app_context(), atomic():
        board_id = db.session.get(LiveSession, sid).board_id
        edit = {"title": "学习贯彻党的二十大精神答疑", "hosts": "", "board_id": str(board_id)}
        edit.update(starts_at="2026-03-01T10:00", moderation="approve_all", audience="members")
        update_session(db.session.get(User, host_id), sid, **edit)
    expect(screen.locator("#live-conn")).to_have_text("您无权查看这场答疑。")
    expect(screen.get_by_test_id("screen-questions")).not_to_contain_text(FIRST)
    for page in (member, host):
        expect(page.locator("#live-conn")).to_have_text("答疑设置已更新，已重新载入")
    expect(item(member, "live-questions", FIRST)).to_be_visible()

    # WCAG 2.1 AA (axe-core) on the three pages as they stand, filled by the script.
    if AXE.is_file():
        source = AXE.read_text(encoding="utf-8")
        for page in (member, host, screen):
            assert violations(page, source) == [], page.url

    # Closed by the host: everyone's page says so, the answered question is archived as a topic.
    host.once("dialog", lambda dialog: dialog.accept())
    host.get_by_role("button", name="结束答疑").click()
    expect(member.locator("[data-live-session-status]")).to_have_text("已结束")
    expect(member.get_by_label("您的问题")).to_be_hidden()
    with app.app_context():
        titles = db.session.scalars(select(Topic.title).where(Topic.title.startswith("答疑实录："))).all()
    assert titles == ["答疑实录：学习贯彻党的二十大精神答疑"]
