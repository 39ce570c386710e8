"""The demo forum: boards with the right access, living threads, a held reply in the queue; idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from dangxiao.accounts.models import User
from dangxiao.demo import seed_demo
from dangxiao.extensions import db
from forum.demo import BOARDS, HELD, THREADS, seed_forum
from forum.models import Board, BoardModerator, Post, PostLike, PostState, Topic
from forum.moderation.models import ModerationRule, ReviewItem


def _counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Board, BoardModerator, Topic, Post, PostLike, ModerationRule, ReviewItem)
    }


def test_demo_forum_is_seeded_once_with_boards_threads_and_a_held_reply(ctx):
    seed_demo()
    lines = seed_forum()
    assert "新增主题 10 个" in "".join(lines) and "已进入审核队列" in "".join(lines)
    first = _counts()
    assert "新增主题 0 个" in "".join(seed_forum())
    assert _counts() == first

    boards = {b.name: b for b in db.session.scalars(select(Board))}
    assert [b.name for b in sorted(boards.values(), key=lambda b: b.position)] == [name for name, *_ in BOARDS]
    assert (boards["时政信息"].read_access.value, boards["时政信息"].post_access.value) == ("public", "moderators")
    assert boards["留言板"].read_access.value == "public"
    assert boards["流动党员之家"].read_access.value == "members"
    moderator = db.session.scalar(select(User).where(User.username == "moderator"))
    assert all([m.user_id for m in b.moderators] == [moderator.id] for b in boards.values())

    # Threads: counters kept by the services, dates spread over the past weeks, one pinned notice.
    assert first["Topic"] == len(THREADS) and first["PostLike"] > 5
    topics = list(db.session.scalars(select(Topic)))
    for topic in topics:
        published = db.session.scalar(
            select(func.count(Post.id)).where(Post.topic_id == topic.id, Post.state == PostState.published)
        )
        assert topic.reply_count == published - 1 and 2 <= topic.reply_count <= 8
    for board in boards.values():
        assert board.topic_count == sum(1 for t in topics if t.board_id == board.id)
    days = {t.created_at.date() for t in topics}
    assert len(days) >= 8
    assert [t.title for t in topics if t.pinned] == ["关于做好2026年度党员教育培训工作的通知"]
    asked = next(t for t in topics if t.author.username == "zhaoliu")
    accepted = db.session.get(Post, asked.accepted_post_id)
    assert "组织关系" in asked.title and accepted.author.username == "moderator"

    # The held reply waits in the moderator's queue, highlighted on its review word.
    held = db.session.scalar(select(Post).where(Post.state == PostState.held))
    assert held.author.username == HELD.author and held.body == HELD.body
    item = db.session.scalar(select(ReviewItem).where(ReviewItem.state == "open"))
    assert (item.kind, item.object_id, item.reason) == ("post", held.id, "rule")
    assert [m["text"] for m in item.matches] == ["加微信"]
