"""The review queue's handler for forum posts (kind "post"), registered on import.

``forum.posting`` imports this module, so any process that can write posts can also
decide them. The queue has already moved the item out of ``open`` (and writes the audit
entry for the decision); these handlers change the post, its counters and flags, and tell
the author. Each checks again that the actor moderates the post.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select

from dangxiao.errors import DomainError, Forbidden, NotFound
from dangxiao.extensions import db
from dangxiao.text.clean import clean_line
from forum import lifecycle, notices, posting
from forum.models import Post, PostFlag, PostState
from forum.moderation.models import ReviewItem
from forum.moderation.queue import KindHandler, register_kind


def _post(item: ReviewItem) -> Post:
    post = db.session.get(Post, item.object_id)
    if post is None:
        raise NotFound("帖子不存在或已被删除。")
    return post


def _require_moderator(actor: Any, post: Post) -> None:
    if not posting._moderates_post(actor, post):
        raise Forbidden("您不负责审核这条帖子。")


def _has_open_flags(post: Post) -> bool:
    return bool(db.session.scalar(select(exists().where(PostFlag.post_id == post.id, PostFlag.resolved_at.is_(None)))))


def approve_post(actor: Any, post: Post) -> Post:
    """Publish a held post (or keep a flagged one published); flags resolved, author told."""
    _require_moderator(actor, post)
    if post.state == PostState.held:
        hidden_by_flags = _has_open_flags(post)  # was public before: readers were told already
        lifecycle.publish(post)
        lifecycle.resolve_flags(post)
        notices.notify_author(post, f"您在《{post.topic.title}》中的帖子已通过审核。")
        if not hidden_by_flags:
            notices.announce(post)
    elif post.state == PostState.published:
        lifecycle.resolve_flags(post)
    else:
        raise DomainError("该帖子已被删除或驳回，无法通过。", "post_closed")
    return post


def approve(actor: Any, item: ReviewItem) -> None:
    approve_post(actor, _post(item))


def reject(actor: Any, item: ReviewItem, reason: str) -> None:
    post = _post(item)
    _require_moderator(actor, post)
    reason = clean_line(reason, "reason", "驳回原因", 200)
    if post.state not in (PostState.held, PostState.published):
        raise DomainError("该帖子已被删除或驳回。", "post_closed")
    lifecycle.withdraw(post, PostState.rejected)
    lifecycle.resolve_flags(post)
    what = "主题" if lifecycle.is_opener(post) else "帖子"
    notices.notify_author(post, f"您在《{post.topic.title}》中的{what}未通过审核，原因：{reason}")


def delete(actor: Any, item: ReviewItem, reason: str) -> None:
    post = _post(item)
    _require_moderator(actor, post)
    posting._delete(actor, post, reason, from_queue=True)


def edit(actor: Any, item: ReviewItem, text: str) -> None:
    """Replace the text (the queue approves next). For an opening post the first line is the title, as queued."""
    post = _post(item)
    _require_moderator(actor, post)
    title: str | None = None
    body = text
    if lifecycle.is_opener(post):
        title, _, body = (text or "").replace("\r\n", "\n").partition("\n")
    posting._edit(actor, post, body, title=title, reason="审核时编辑", from_queue=True)


def url(item: ReviewItem) -> str | None:
    post = db.session.get(Post, item.object_id)
    return notices.post_url(post) if post is not None else None


HANDLER = KindHandler(label="论坛帖子", approve=approve, reject=reject, delete=delete, edit=edit, url=url)
register_kind("post", HANDLER)
