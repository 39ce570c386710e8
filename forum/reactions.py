"""What members do to posts other than writing them: like, flag, accept as answer, subscribe.

Counts change by single ``x = x ± 1`` UPDATEs after an INSERT ... ON CONFLICT DO NOTHING or
a DELETE whose row count says whether anything changed: a double click or two tabs never
count twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, select, update

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.notifications.service import notify
from dangxiao.queries import insert_ignore
from dangxiao.text.clean import clean_line
from forum import lifecycle, notices, posting
from forum.boards import may_read, moderates_any_board
from forum.models import FlagReason, Post, PostFlag, PostLike, PostState, Subscription, Topic, TopicKind


def _require_reader(actor: Any, post_or_topic: Post | Topic) -> None:
    if not posting._active(actor):
        raise Forbidden("请先登录。")
    topic = post_or_topic.topic if isinstance(post_or_topic, Post) else post_or_topic
    if not may_read(actor, topic.board):
        raise Forbidden("您无权访问该版块。")


def _require_public(post: Post) -> None:
    if post.state != PostState.published or post.topic.state != PostState.published:
        raise DomainError("该帖子尚未公开或已删除。", "post_not_public")


def toggle_like(actor: Any, post: Post) -> tuple[bool, int]:
    """Like or unlike; returns (liked now?, like_count)."""
    _require_reader(actor, post)
    _require_public(post)
    if post.author_id == actor.id:
        raise DomainError("不能给自己的帖子点赞。", "own_post")
    removed = db.session.execute(
        delete(PostLike).where(PostLike.post_id == post.id, PostLike.user_id == actor.id)
    ).rowcount
    if removed:
        liked, delta = False, -1
    else:
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT with implicit RETURNING.
        added = db.session.execute(
            insert_ignore(PostLike)
            .values(post_id=post.id, user_id=actor.id, created_at=utcnow())
            .returning(PostLike.post_id)
        ).first()
        liked, delta = True, (1 if added is not None else 0)
    if delta:
        db.session.execute(
            update(Post)
            .where(Post.id == post.id)
            .values(like_count=Post.like_count + delta)
            .execution_options(synchronize_session=False)
        )
        if lifecycle.is_opener(post):
            db.session.execute(
                update(Topic)
                .where(Topic.id == post.topic_id)
                .values(like_count=Topic.like_count + delta)
                .execution_options(synchronize_session=False)
            )
            db.session.expire(post.topic, ["like_count"])
        db.session.expire(post, ["like_count"])
    return liked, post.like_count


def flag_post(actor: Any, post: Post, reason: str, note: str = "") -> PostFlag:
    """Flag a post for moderators; at the board's threshold the post is hidden pending review."""
    _require_reader(actor, post)
    _require_public(post)
    try:
        flag_reason = FlagReason(reason)
    except ValueError:
        raise DomainError("请选择举报原因。", "reason_invalid", "reason") from None
    note = clean_line(note, "note", "举报说明", 200, required=flag_reason == FlagReason.other)
    if post.author_id == actor.id:
        raise DomainError("不能举报自己的帖子。", "own_post")
    already = DomainError("您已经举报过这条帖子，版主会尽快处理。", "already_flagged")
    if db.session.scalar(select(exists().where(PostFlag.post_id == post.id, PostFlag.user_id == actor.id))):
        raise already
    added = db.session.execute(
        insert_ignore(PostFlag)
        .values(post_id=post.id, user_id=actor.id, reason=flag_reason.value, note=note, created_at=utcnow())
        .returning(PostFlag.post_id)
    ).first()
    if added is None:  # the same member in two tabs at once
        raise already
    db.session.execute(
        update(Post)
        .where(Post.id == post.id)
        .values(flag_count=Post.flag_count + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(post, ["flag_count"])
    flag = db.session.scalar(select(PostFlag).where(PostFlag.post_id == post.id, PostFlag.user_id == actor.id))
    threshold = post.topic.board.flag_threshold or 0
    if threshold > 0 and post.flag_count >= threshold:
        _hide(post)
    return flag


def _hide(post: Post) -> None:
    """Hide a published post for review; only the flagger whose UPDATE flips the state does it."""
    flipped = db.session.execute(
        update(Post)
        .where(Post.id == post.id, Post.state == PostState.published)
        .values(state=PostState.held)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not flipped:
        return
    db.session.expire(post, ["state"])
    lifecycle.withdraw(post, PostState.held, was_published=True)
    lifecycle.enqueue(post, "flags")
    notices.notify_author(post, f"您在《{post.topic.title}》中的帖子因多人举报已暂时隐藏，等待版主审核。")


def accept_answer(actor: Any, post: Post) -> Topic:
    """Mark a reply as the accepted answer of its question topic; again on the same post un-accepts."""
    topic = post.topic
    _require_reader(actor, topic)
    if topic.kind != TopicKind.question:
        raise DomainError("只有提问类主题可以采纳答案。", "not_question")
    if topic.author_id != actor.id and not moderates_any_board(actor, topic.board):
        raise Forbidden("只有提问者或版主可以采纳答案。")
    if topic.state != PostState.published:
        raise DomainError("该主题尚未公开或已删除。", "topic_not_open")
    if topic.accepted_post_id == post.id:
        topic.accepted_post_id = None
        db.session.flush()
        return topic
    if post.topic_id != topic.id or lifecycle.is_opener(post) or post.state != PostState.published:
        raise DomainError("只能采纳本主题中已发布的回复。", "answer_invalid")
    topic.accepted_post_id = post.id
    db.session.flush()
    if post.author_id != actor.id:
        notify(
            post.author_id, "forum_reply", f"您在《{topic.title}》中的回答被采纳为最佳答案。", notices.post_url(post)
        )
    return topic


def set_subscription(actor: Any, topic: Topic, on: bool) -> bool:
    """Follow or stop following a topic; returns whether the actor follows it now."""
    _require_reader(actor, topic)
    if on:
        notices.subscribe(actor.id, topic.id)
    else:
        notices.unsubscribe(actor.id, topic.id)
    return bool(on)


def is_subscribed(user_id: int | None, topic_id: int) -> bool:
    if user_id is None:
        return False
    return bool(
        db.session.scalar(select(exists().where(Subscription.user_id == user_id, Subscription.topic_id == topic_id)))
    )
