"""The forum's moderation loop in Chromium.

A member replies with a review word disguised by a full-width dot and a zero-width space
between its characters; the reply is held (the member is told so);
the moderator finds it in the review queue with the disguised span highlighted, approves
it; the member's notification arrives and the reply shows on the topic page.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from tests.e2e.journeys import log_in
from tests.e2e.test_accessibility import axe_source, check  # noqa: F401, F811 — axe_source is a fixture

pytestmark = [pytest.mark.e2e]

DISGUISED = "拉．\u200b票"
REPLY = f"请大家帮我{DISGUISED}，投给三号候选人。"


@pytest.fixture
def forum_topic(app, create_branch, create_user) -> int:
    from forum import board_admin, posting
    from forum.models import Board
    from forum.moderation import rules

    branch = create_branch("东街村党支部")
    create_user("dangyuan", branch=branch, display_name="张党员")
    mod_id = create_user("banzhu", roles=["member", "moderator"], branch=branch, display_name="王版主")
    with app.app_context(), atomic():
        from dangxiao.accounts.models import User
        from dangxiao.extensions import db

        board = board_admin.create_board(SYSTEM, name="学习心得", read_access="members", post_access="members")
        rules.add_rule(SYSTEM, "拉票", "review", "forum")
        moderator = db.session.get(User, mod_id)
        opener = posting.create_topic(
            moderator, db.session.get(Board, board.id), "换届选举纪律学习", "请大家谈谈体会。"
        )
        return opener.topic_id


def test_held_reply_is_approved_from_the_queue_and_shows(browser, live_server, forum_topic):
    topic_url = f"{live_server}/forum/t/{forum_topic}"

    member = browser.new_context(locale="zh-CN").new_page()
    log_in(member, live_server, "dangyuan")
    member.goto(topic_url)
    member.get_by_label("回复内容").fill(REPLY)
    member.get_by_role("button", name="发表回复").click()
    member.wait_for_load_state()
    assert "等待版主审核" in member.content()

    moderator = browser.new_context(locale="zh-CN").new_page()
    log_in(moderator, live_server, "banzhu")
    moderator.goto(live_server + "/")
    moderator.get_by_test_id("nav-review-queue").click()
    mark = moderator.locator("mark").first
    # The exact span of the stored text, the full-width dot included (zero-width characters
    # are stripped from every text at write time, so they never reach the queue).
    assert mark.inner_text() == DISGUISED.replace("\u200b", "")
    moderator.get_by_role("button", name="通过", exact=True).first.click()
    moderator.wait_for_load_state()
    assert "已通过" in moderator.content()

    member.goto(f"{live_server}/notifications/")
    assert "已通过审核" in member.content()
    member.goto(topic_url)
    replies = member.locator("article").all_inner_texts()
    assert any("投给三号候选人" in text and "待审核" not in text for text in replies)


def test_forum_pages_meet_wcag_aa(app, browser, live_server, forum_topic, axe_source):  # noqa: F811
    """Every forum page kind, as the member who wrote a held reply and as the moderator."""
    from dangxiao.accounts.models import User
    from dangxiao.extensions import db
    from forum import posting
    from forum.models import Topic

    with app.app_context(), atomic():
        topic = db.session.get(Topic, forum_topic)
        author = db.session.scalar(select(User).where(User.username == "dangyuan"))
        post = posting.reply(author, topic, REPLY)  # held: the queue has an item with a highlight
        board_id, post_id = topic.board_id, post.id

    member = browser.new_context(locale="zh-CN").new_page()
    log_in(member, live_server, "dangyuan")
    member_pages = [
        "/forum/",
        f"/forum/b/{board_id}",
        f"/forum/b/{board_id}/new",
        f"/forum/t/{forum_topic}",
        f"/forum/p/{post_id}/edit",
        f"/forum/p/{post_id}/flag",
        f"/forum/p/{post_id}/delete",
    ]
    assert check(member, live_server, member_pages, axe_source) == {}

    moderator = browser.new_context(locale="zh-CN").new_page()
    log_in(moderator, live_server, "banzhu")
    moderator_pages = ["/moderation/queue/", f"/forum/t/{forum_topic}", "/moderation/rules/1/edit"]  # the one rule
    assert check(moderator, live_server, moderator_pages, axe_source) == {}
