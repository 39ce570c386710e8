"""Moderator actions on whole topics (pin, lock, move) and reading a post's edit history.

Topic-wide actions need a moderator of the topic's board (``moderates_any_board``); each
change is written to the audit log in the same transaction. Moving keeps both boards'
counters right and the open queue items following the topic to its new board.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, or_, select, update

from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from forum import notices, posting
from forum.boards import moderates_any_board
from forum.models import Board, Post, PostRevision, PostState, Topic
from forum.moderation import audit
from forum.moderation.models import ReviewItem


def _require_topic_moderator(actor: Any, topic: Topic, board: Board | None = None) -> None:
    if not moderates_any_board(actor, board or topic.board):
        raise Forbidden("您不是该版块的版主。")


def _set_flag(
    actor: Any, topic: Topic, field: str, on: bool, actions: tuple[str, str], labels: tuple[str, str]
) -> Topic:
    """Set a topic's boolean `field`; a change (not a repeat) is audited as actions[0]/[1]."""
    _require_topic_moderator(actor, topic)
    on = bool(on)
    if getattr(topic, field) != on:
        setattr(topic, field, on)
        db.session.flush()
        action, label = (actions[0], labels[0]) if on else (actions[1], labels[1])
        audit.log(actor, action, "topic", topic.id, board_id=topic.board_id, summary=f"{label}《{topic.title}》")
    return topic


def set_pinned(actor: Any, topic: Topic, on: bool) -> Topic:
    return _set_flag(actor, topic, "pinned", on, ("pin", "unpin"), ("置顶", "取消置顶"))


def set_locked(actor: Any, topic: Topic, on: bool) -> Topic:
    return _set_flag(actor, topic, "locked", on, ("lock", "unlock"), ("锁定", "解除锁定"))


def move_topic(actor: Any, topic: Topic, board: Board, reason: str = "") -> Topic:
    """Move a topic to another board the actor also moderates."""
    source = topic.board
    _require_topic_moderator(actor, topic)
    if board.id == source.id:
        raise DomainError("主题已经在该版块中。", "same_board", "board")
    if not moderates_any_board(actor, board):
        raise Forbidden("只能把主题移到您管理的版块。")
    if board.archived:
        raise DomainError("不能移到已归档的版块。", "board_archived", "board")
    if topic.state == PostState.published:
        posts = (
            db.session.scalar(
                select(func.count())
                .select_from(Post)
                .where(Post.topic_id == topic.id, Post.state == PostState.published)
            )
            or 0
        )
        db.session.execute(
            update(Board)
            .where(Board.id == source.id)
            .values(topic_count=Board.topic_count - 1, post_count=Board.post_count - posts)
            .execution_options(synchronize_session=False)
        )
        at = topic.last_post_at
        db.session.execute(
            update(Board)
            .where(Board.id == board.id)
            .values(
                topic_count=Board.topic_count + 1,
                post_count=Board.post_count + posts,
                last_post_at=case(
                    (or_(Board.last_post_at.is_(None), Board.last_post_at < at), at), else_=Board.last_post_at
                ),
            )
            .execution_options(synchronize_session=False)
        )
        for changed in (source, board):
            db.session.expire(changed, ["topic_count", "post_count", "last_post_at"])
    topic.board_id = board.id
    topic.board = board
    db.session.flush()
    db.session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.kind == "post",
            ReviewItem.state == "open",
            ReviewItem.object_id.in_(select(Post.id).where(Post.topic_id == topic.id)),
        )
        .values(board_id=board.id)
        .execution_options(synchronize_session=False)
    )
    audit.log(
        actor, "move", "topic", topic.id, board_id=board.id,
        summary=f"《{topic.title}》从「{source.name}」移到「{board.name}」", reason=reason,
    )  # fmt: skip
    if topic.author_id != getattr(actor, "id", None) and topic.first_post_id is not None:
        opener = db.session.get(Post, topic.first_post_id)
        if opener is not None:
            notices.notify_author(opener, f"您的主题《{topic.title}》已被版主移到「{board.name}」版块。")
    return topic


def revisions(actor: Any, post: Post) -> list[PostRevision]:
    """The earlier texts of a post, oldest first: for its moderators, and for its author."""
    if not (posting._moderates_post(actor, post) or posting._is_author(actor, post)):
        raise Forbidden("只有版主和作者本人可以查看编辑历史。")
    return list(
        db.session.scalars(select(PostRevision).where(PostRevision.post_id == post.id).order_by(PostRevision.id))
    )
