"""Likes, flags (hiding at the threshold, restored by approval), accepted answers, subscriptions."""

from __future__ import annotations

from sqlalchemy import select

from dangxiao.accounts.models import User
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum import reactions
from forum.models import Board, Post, PostFlag, PostState, Topic
from forum.moderation.models import ReviewItem
from forum.moderation.queue import handler_for
from tests.forum import test_posting
from tests.forum.test_posting import counts, get, note, notes, refused, reply_by, topic_by

world = test_posting.world  # the shared fixture: boards, members, moderators


def test_likes_toggle_and_are_counted_once(world, create_user):
    opener = topic_by(world.author, world.board)
    answer = reply_by(world.other, opener.topic_id, "一条有用的回复")
    with atomic():
        assert reactions.toggle_like(get(User, world.author), get(Post, answer.id)) == (True, 1)
        assert reactions.toggle_like(get(User, world.zhang), get(Post, answer.id)) == (True, 2)
    with atomic():
        assert reactions.toggle_like(get(User, world.author), get(Post, answer.id)) == (False, 1)
    with atomic():
        reactions.toggle_like(get(User, world.other), get(Post, opener.id))
    assert (get(Post, opener.id).like_count, get(Topic, opener.topic_id).like_count) == (1, 1)
    refused("own_post", reactions.toggle_like, get(User, world.other), get(Post, answer.id))
    refused(
        "forbidden",
        reactions.toggle_like,
        get(User, world.outsider),
        get(Post, topic_by(world.author, world.branch_board, body="支部的帖子").id),
    )


def test_flags_hide_a_post_at_the_threshold_until_a_moderator_restores_it(world):
    with atomic():
        get(Board, world.board).flag_threshold = 2
    opener = topic_by(world.author, world.board)
    target = reply_by(world.other, opener.topic_id, "可能不太合适的回复")
    assert counts(opener.topic_id, world.board) == (1, 1, 2)
    refused("note_empty", reactions.flag_post, get(User, world.author), get(Post, target.id), "other")
    refused("reason_invalid", reactions.flag_post, get(User, world.author), get(Post, target.id), "boring")
    refused("own_post", reactions.flag_post, get(User, world.other), get(Post, target.id), "spam")
    with atomic():
        reactions.flag_post(get(User, world.author), get(Post, target.id), "off_topic")
    error = refused("already_flagged", reactions.flag_post, get(User, world.author), get(Post, target.id), "spam")
    assert "已经举报过" in error.message
    assert get(Post, target.id).state == PostState.published
    with atomic():
        flag = reactions.flag_post(get(User, world.zhang), get(Post, target.id), "other", "广告链接")
    assert (flag.reason, flag.note) == ("other", "广告链接")
    post = get(Post, target.id)
    assert (post.state, post.flag_count) == (PostState.held, 2)
    assert counts(opener.topic_id, world.board) == (0, 1, 1)
    item = db.session.scalar(select(ReviewItem).where(ReviewItem.object_id == target.id))
    assert (item.reason, item.text) == ("flags", "可能不太合适的回复")
    assert notes(world.other)[-1] == note(
        "forum_moderation", "您在《学习心得交流》中的帖子因多人举报已暂时隐藏，等待版主审核。"
    )

    with atomic():
        item.state = "approved"
        handler_for("post").approve(get(User, world.mod), item)
    post = get(Post, target.id)
    assert (post.state, post.flag_count) == (PostState.published, 0)
    assert all(f.resolved_at is not None for f in db.session.scalars(select(PostFlag)))
    assert counts(opener.topic_id, world.board) == (1, 1, 2)
    assert len(notes(world.author)) == 1  # the first reply; a restored post is not news a second time


def test_accepted_answer_on_question_topics(world):
    discussion = topic_by(world.author, world.board)
    reply = reply_by(world.other, discussion.topic_id, "讨论里的回复")
    refused("not_question", reactions.accept_answer, get(User, world.author), get(Post, reply.id))

    question = topic_by(world.author, world.board, "流动党员如何转接组织关系", "请问需要哪些材料？", kind="question")
    answer = reply_by(world.other, question.topic_id, "需要介绍信和党费证明。")
    refused("forbidden", reactions.accept_answer, get(User, world.zhang), get(Post, answer.id))
    refused("forbidden", reactions.accept_answer, get(User, world.othermod), get(Post, answer.id))
    refused("answer_invalid", reactions.accept_answer, get(User, world.author), get(Post, question.id))
    with atomic():
        topic = reactions.accept_answer(get(User, world.author), get(Post, answer.id))
        assert topic.accepted_post_id == answer.id
    assert note("forum_reply", "您在《流动党员如何转接组织关系》中的回答被采纳为最佳答案。") in notes(world.other)
    with atomic():  # again: un-accept; the board moderator may do it too
        assert reactions.accept_answer(get(User, world.mod), get(Post, answer.id)).accepted_post_id is None


def test_subscriptions(world):
    opener = topic_by(world.author, world.board)
    topic_id = opener.topic_id
    assert reactions.is_subscribed(world.author, topic_id) and not reactions.is_subscribed(world.zhang, topic_id)
    with atomic():
        assert reactions.set_subscription(get(User, world.zhang), get(Topic, topic_id), True) is True
        reactions.set_subscription(get(User, world.zhang), get(Topic, topic_id), True)  # twice is fine
    reply_by(world.other, topic_id, "有新回复了")
    assert notes(world.zhang) == [note("forum_reply", "小王 回复了主题《学习心得交流》")]
    with atomic():
        assert reactions.set_subscription(get(User, world.zhang), get(Topic, topic_id), False) is False
    reply_by(world.other, topic_id, "又有新回复了")
    assert len(notes(world.zhang)) == 1 and not reactions.is_subscribed(world.zhang, topic_id)
    assert not reactions.is_subscribed(None, topic_id)
    try:
        with atomic():
            reactions.set_subscription(
                get(User, world.outsider),
                get(Topic, topic_by(world.author, world.branch_board, body="内部").topic_id),
                True,
            )
    except DomainError as exc:
        assert exc.code == "forbidden"
    else:
        raise AssertionError("an outsider followed a topic they may not read")
