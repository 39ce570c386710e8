"""A post's public life: publishing, withdrawing, the counters that follow, and its queue item.

Counters a board page shows (topic replies and last post, board topics/posts/last post)
change only with published posts, each as one ``UPDATE ... SET x = x + 1`` statement:
concurrent writers never overwrite each other's count (the concurrency test posts 2,000
replies from 20 threads). Posting, review decisions, flags and moves all go through here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select, update

from dangxiao.db_types import aware, utcnow
from dangxiao.extensions import db
from forum.models import Board, Post, PostFlag, PostState, Topic
from forum.moderation import queue
from forum.moderation.models import ReviewItem


def is_opener(post: Post) -> bool:
    return post.topic.first_post_id == post.id


# --- counters --------------------------------------------------------------------------------


def board_counts(board_id: int, *, topics: int = 0, posts: Any = 0, at: datetime | None = None) -> None:
    values: dict[str, Any] = {}
    if topics:
        values["topic_count"] = Board.topic_count + topics
    values["post_count"] = Board.post_count + posts
    if at is not None:
        values["last_post_at"] = case(
            (or_(Board.last_post_at.is_(None), Board.last_post_at < at), at), else_=Board.last_post_at
        )
    db.session.execute(
        update(Board).where(Board.id == board_id).values(**values).execution_options(synchronize_session=False)
    )


def replies_of(topic_id: int) -> Any:
    return select(Topic.reply_count).where(Topic.id == topic_id).scalar_subquery()


def add_reply(topic_id: int, post: Post) -> None:
    """One more published reply; it becomes the last post unless a newer one already is."""
    newer = or_(Topic.last_post_id.is_(None), Topic.last_post_id < post.id)
    db.session.execute(
        update(Topic)
        .where(Topic.id == topic_id)
        .values(
            reply_count=Topic.reply_count + 1,
            last_post_id=case((newer, post.id), else_=Topic.last_post_id),
            last_post_at=case((newer, post.created_at), else_=Topic.last_post_at),
            last_author_id=case((newer, post.author_id), else_=Topic.last_author_id),
        )
        .execution_options(synchronize_session=False)
    )


def remove_reply(topic_id: int, post_id: int) -> None:
    """One published reply less; if it was the last post, the newest published one takes over."""
    db.session.execute(
        update(Topic)
        .where(Topic.id == topic_id)
        .values(reply_count=Topic.reply_count - 1)
        .execution_options(synchronize_session=False)
    )
    last_id = (
        select(func.max(Post.id)).where(Post.topic_id == topic_id, Post.state == PostState.published).scalar_subquery()
    )
    db.session.execute(
        update(Topic)
        .where(Topic.id == topic_id, Topic.last_post_id == post_id)
        .values(
            last_post_id=last_id,
            last_post_at=func.coalesce(
                select(Post.created_at).where(Post.id == last_id).scalar_subquery(), Topic.last_post_at
            ),
            last_author_id=select(Post.author_id).where(Post.id == last_id).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )


def expire_counters(topic: Topic) -> None:
    """The UPDATEs bypassed the ORM: reload the counters on next access."""
    db.session.expire(topic, ["reply_count", "last_post_id", "last_post_at", "last_author_id"])
    board = db.session.get(Board, topic.board_id)
    if board is not None:
        db.session.expire(board, ["topic_count", "post_count", "last_post_at"])


def publish(post: Post) -> None:
    """Make a held post public and count it (internal: review decisions call it)."""
    topic = post.topic
    post.state = PostState.published
    if is_opener(post):
        topic_was_published = topic.state == PostState.published
        topic.state = PostState.published
        db.session.flush()
        if not topic_was_published:
            board_counts(topic.board_id, topics=1, posts=1 + replies_of(topic.id), at=aware(topic.last_post_at))
    else:
        db.session.flush()
        add_reply(topic.id, post)
        if topic.state == PostState.published:
            board_counts(topic.board_id, posts=1, at=aware(post.created_at))
    expire_counters(topic)


def withdraw(post: Post, state: PostState, *, was_published: bool | None = None) -> None:
    """Take a post out of public view as `state` (held, rejected, deleted), uncounting it if it was public.

    `was_published` for a caller that already flipped the state with its own conditional UPDATE.
    """
    topic = post.topic
    if was_published is None:
        was_published = post.state == PostState.published
    topic_was_published = topic.state == PostState.published
    post.state = state
    opener = is_opener(post)
    if opener:
        topic.state = state
    db.session.flush()
    if not was_published:
        return
    if opener:
        if topic_was_published:
            board_counts(topic.board_id, topics=-1, posts=-1 - replies_of(topic.id))
    else:
        remove_reply(topic.id, post.id)
        if topic_was_published:
            board_counts(topic.board_id, posts=-1)
    expire_counters(topic)


# --- the queue and flags ---------------------------------------------------------------------


def queue_text(post: Post) -> str:
    """What moderators read in the queue: "title\\nbody" for an opening post, the body for a reply."""
    return f"{post.topic.title}\n{post.body}" if is_opener(post) else post.body


def enqueue(post: Post, reason: str, *, text: str | None = None, matches: list[dict] | None = None) -> ReviewItem:
    topic = post.topic
    return queue.enqueue(
        "post",
        post.id,
        reason,
        author_id=post.author_id,
        branch_id=post.author.branch_id,
        board_id=topic.board_id,
        title=topic.title if is_opener(post) else f"回复：{topic.title}",
        text=queue_text(post) if text is None else text,
        matches=matches or [],
    )


def close_review(post: Post, actor: Any, state: str, note: str = "") -> None:
    """Close the post's open queue item (its author deleted it, say): nothing left to decide."""
    db.session.execute(
        update(ReviewItem)
        .where(ReviewItem.kind == "post", ReviewItem.object_id == post.id, ReviewItem.state == "open")
        .values(state=state, decided_at=utcnow(), decided_by_id=getattr(actor, "id", None), decision_note=note[:200])
        .execution_options(synchronize_session=False)
    )


def resolve_flags(post: Post) -> None:
    """A moderator decided: every open flag on the post is resolved, its count back to 0."""
    db.session.execute(
        update(PostFlag)
        .where(PostFlag.post_id == post.id, PostFlag.resolved_at.is_(None))
        .values(resolved_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Post).where(Post.id == post.id).values(flag_count=0).execution_options(synchronize_session=False)
    )
    db.session.expire(post, ["flag_count"])
