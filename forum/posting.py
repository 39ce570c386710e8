"""Writing to the forum: new topics, replies, edits and deletions.

Every write passes the same gates in the same order: may the actor read and post on the
board, is the topic open, the limits (silence, length, rate, duplicate), then the keyword
engine over the whole text. What the engine and the board say decides the state:
published, or held for the one review queue (``forum.review`` handles decisions).

Publishing and the counters are in ``forum.lifecycle``, notifications in ``forum.notices``.
Services flush, never commit.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import update

from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.markup import render_for_app
from dangxiao.text.clean import clean_line
from forum import lifecycle, limits, notices
from forum import policy as _policy  # noqa: F401  (registers the forum.* policy rules)
from forum.boards import may_post, may_read, moderates, moderates_any_board
from forum.limits import RateLimited
from forum.models import (
    Approval,
    Board,
    Post,
    PostRevision,
    PostState,
    Topic,
    TopicKind,
)
from forum.moderation import audit, rules
from forum.moderation.engine import Verdict
from forum.moderation.models import ReviewItem
from forum.notices import post_url  # part of this module's API: pages link to posts through it

__all__ = [
    "RateLimited",
    "create_topic",
    "delete_post",
    "edit_post",
    "may_delete",
    "may_edit",
    "post_url",
    "quote_markdown",
    "reply",
]

_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


# --- gates -----------------------------------------------------------------------------------


def _active(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False)) and bool(getattr(actor, "is_active", False))


def _check_board(actor: Any, board: Board) -> None:
    if not _active(actor):
        raise Forbidden("请先登录后再发帖。")
    if not may_read(actor, board):
        raise Forbidden("您无权访问该版块。")
    if board.archived:
        raise Forbidden("该版块已归档，不能再发帖。")
    if not may_post(actor, board):
        raise Forbidden("您没有在该版块发帖的权限。")


def _is_board_moderator(actor: Any, board: Board) -> bool:
    """A moderator of this board (board settings never hold their posts)."""
    return moderates_any_board(actor, board) or moderates(actor, board, getattr(actor, "branch_id", None))


def _moderates_post(actor: Any, post: Post) -> bool:
    return moderates(actor, post.topic.board, post.author.branch_id)


def _is_author(actor: Any, post: Post) -> bool:
    return _active(actor) and getattr(actor, "id", None) == post.author_id


def _screen(title: str | None, body: str) -> tuple[str | None, str, Verdict, str]:
    """Run the keyword engine over title and body: refuse blocked words, apply censoring.

    Returns the (censored) title and body, the verdict and the text it was given (the
    review queue's match offsets point into that text).
    """
    text = body if title is None else f"{title}\n{body}"
    verdict = rules.check(text, "forum", record=True)
    if verdict.action == "block":
        words = list(dict.fromkeys(m.rule for m in verdict.matches if m.action == "block"))
        raise DomainError(f"内容含有不允许发布的词语：{'、'.join(words)}。请修改后再提交。", "blocked", "body")
    if any(m.action == "censor" for m in verdict.matches):
        censored = verdict.censored  # one ＊ per character: lengths are kept
        if title is None:
            body = censored
        else:
            title, body = censored[: len(title)], censored[len(title) + 1 :]
    return title, body, verdict, text


def _hold_reason(actor: Any, board: Board, body: str, verdict: Verdict, *, topic: bool, moderator: bool) -> str | None:
    if verdict.action == "review":
        return "rule"
    if moderator:
        return None
    if board.approval == Approval.all or (topic and board.approval == Approval.topics):
        return "board"
    if current_app.config.get("FORUM_NEW_ACCOUNT_HOLD_LINKS") and limits.is_new_account(actor) and _LINK.search(body):
        return "new_user"
    return None


def _matches(verdict: Verdict) -> list[dict]:
    return [m.as_dict() for m in verdict.matches if m.action != "tag"]


# --- topics and replies ----------------------------------------------------------------------


def create_topic(actor: Any, board: Board, title: str, body: str, *, kind: str = "discussion") -> Post:
    """A new topic and its opening post (returned; ``post.topic`` is the topic), published or held."""
    _check_board(actor, board)
    try:
        topic_kind = TopicKind(kind)
    except ValueError:
        raise DomainError("主题类型无效。", "kind_invalid", "kind") from None
    limits.check_silence(actor)
    title = limits.clean_title(title)
    body = limits.clean_body(body)
    digest = limits.content_hash(body)
    limits.check_recent(actor, digest, topic=True)
    screened_title, body, verdict, text = _screen(title, body)
    title = screened_title or title
    hold = _hold_reason(actor, board, body, verdict, topic=True, moderator=_is_board_moderator(actor, board))
    state = PostState.held if hold else PostState.published
    body_html = render_for_app(body)
    now = utcnow()
    topic = Topic(
        board_id=board.id,
        author_id=actor.id,
        title=title,
        kind=topic_kind,
        state=state,
        last_post_at=now,
        last_author_id=actor.id,
        created_at=now,
    )
    db.session.add(topic)
    db.session.flush()
    post = Post(
        topic_id=topic.id,
        author_id=actor.id,
        body=body,
        body_html=body_html,
        state=state,
        content_hash=digest,
        created_at=now,
    )
    post.topic = topic
    db.session.add(post)
    db.session.flush()
    topic.first_post_id = topic.last_post_id = post.id
    db.session.flush()
    notices.subscribe(actor.id, topic.id)
    reason = hold or ("rule" if verdict.action == "flag" else None)
    if reason:
        lifecycle.enqueue(post, reason, text=text, matches=_matches(verdict))
    if state == PostState.published:
        notices.announce(post)
        lifecycle.board_counts(board.id, topics=1, posts=1, at=now)  # last: the board row is locked until the commit
        db.session.expire(board, ["topic_count", "post_count", "last_post_at"])
    return post


def reply(actor: Any, topic: Topic, body: str, *, reply_to: Post | None = None) -> Post:
    """A reply in `topic`, published or held; published replies notify subscribers and the mentioned."""
    board = topic.board
    if not _active(actor):
        raise Forbidden("请先登录后再回复。")
    if not may_read(actor, board):
        raise Forbidden("您无权访问该版块。")
    if topic.state != PostState.published:
        raise DomainError("该主题不存在或尚未公开，不能回复。", "topic_not_open")
    _check_board(actor, board)
    moderator = _is_board_moderator(actor, board)
    if topic.locked and not moderator:
        raise DomainError("该主题已锁定，不能回复。", "topic_locked")
    if reply_to is not None and (reply_to.topic_id != topic.id or reply_to.state != PostState.published):
        raise DomainError("回复的帖子不存在或不在此主题中。", "reply_to_invalid", "reply_to")
    limits.check_silence(actor)
    body = limits.clean_body(body)
    digest = limits.content_hash(body)
    limits.check_recent(actor, digest, topic=False)
    _, body, verdict, text = _screen(None, body)
    hold = _hold_reason(actor, board, body, verdict, topic=False, moderator=moderator)
    state = PostState.held if hold else PostState.published
    post = Post(
        topic_id=topic.id,
        author_id=actor.id,
        body=body,
        body_html=render_for_app(body),
        state=state,
        reply_to_id=reply_to.id if reply_to is not None else None,
        content_hash=digest,
    )
    post.topic, post.author = topic, actor
    recipients = notices.audience(post, opener=False) if state == PostState.published else []
    db.session.add(post)  # the first write: from here to the commit, only writes
    post.created_at = utcnow()
    db.session.flush()
    reason = hold or ("rule" if verdict.action == "flag" else None)
    if reason:
        lifecycle.enqueue(post, reason, text=text, matches=_matches(verdict))
    if state == PostState.published:
        notices.send(post, recipients)
        # Counters last: on PostgreSQL the topic and board rows stay locked only from here to the commit.
        lifecycle.add_reply(topic.id, post)
        lifecycle.board_counts(board.id, posts=1, at=post.created_at)
        lifecycle.expire_counters(topic)
    return post


# --- edits and deletions ---------------------------------------------------------------------


def _within_window(post: Post, board: Board) -> bool:
    minutes = board.edit_window_minutes or 0
    return minutes > 0 and aware(post.created_at) + timedelta(minutes=minutes) > utcnow()


def may_edit(actor: Any, post: Post) -> bool:
    """Show the 编辑 button? (edit_post decides again.)"""
    if not _active(actor) or post.state == PostState.deleted:
        return False
    board = post.topic.board
    if _moderates_post(actor, post):
        return True
    return (
        _is_author(actor, post)
        and post.state != PostState.rejected
        and not board.archived
        and may_post(actor, board)
        and _within_window(post, board)
    )


def may_delete(actor: Any, post: Post) -> bool:
    """Show the 删除 button? Authors their own posts, moderators any post they moderate."""
    if not _active(actor) or post.state == PostState.deleted:
        return False
    return _is_author(actor, post) or _moderates_post(actor, post)


def edit_post(actor: Any, post: Post, body: str, *, title: str | None = None, reason: str = "") -> Post:
    """Replace a post's text (and the topic title, for an opening post), keeping the old one as a revision."""
    return _edit(actor, post, body, title=title, reason=reason, from_queue=False)


def _edit(actor: Any, post: Post, body: str, *, title: str | None, reason: str, from_queue: bool) -> Post:
    topic = post.topic
    board = topic.board
    moderator = _moderates_post(actor, post)
    if post.state == PostState.deleted:
        raise DomainError("已删除的帖子不能编辑。", "post_closed")
    if not moderator:
        if not _is_author(actor, post):
            raise Forbidden("您只能编辑自己的帖子。")
        if post.state == PostState.rejected:
            raise DomainError("未通过审核的帖子不能编辑。", "post_closed")
        if board.archived or not may_post(actor, board):
            raise Forbidden("您没有在该版块发帖的权限。")
        if not _within_window(post, board):
            if not board.edit_window_minutes:
                raise Forbidden("该版块的帖子发布后不能编辑。", "edit_window_closed")
            raise Forbidden(
                f"帖子发布 {board.edit_window_minutes} 分钟后不能再编辑，如需更正请回复说明。", "edit_window_closed"
            )
        limits.check_silence(actor)
    reason = clean_line(reason, "reason", "编辑原因", 200, required=False)
    body = limits.clean_body(body)
    opener = lifecycle.is_opener(post)
    new_title: str | None = None
    if opener:
        new_title = limits.clean_title(title) if title is not None else topic.title
    if body == post.body and (not opener or new_title == topic.title):
        return post  # nothing changed: no revision, no queue
    screened_title, body, verdict, text = _screen(new_title, body)
    db.session.add(
        PostRevision(
            post_id=post.id,
            title=topic.title if opener else None,
            body=post.body,
            editor_id=getattr(actor, "id", None),
            reason=reason,
        )
    )
    post.body = body
    post.body_html = render_for_app(body)
    post.content_hash = limits.content_hash(body)
    post.edit_count = Post.edit_count + 1
    post.edited_at = utcnow()
    if opener and screened_title is not None:
        topic.title = screened_title
    db.session.flush()
    matches = _matches(verdict)
    if from_queue:
        pass  # the moderator deciding the item has just read and rewritten the text
    elif verdict.action == "review" and not moderator and post.state == PostState.published:
        lifecycle.withdraw(post, PostState.held)
        lifecycle.enqueue(post, "rule", text=text, matches=matches)
    elif post.state == PostState.held:
        # Still waiting: the moderator must judge the text as it is now, not as it was held.
        db.session.execute(
            update(ReviewItem)
            .where(ReviewItem.kind == "post", ReviewItem.object_id == post.id, ReviewItem.state == "open")
            .values(text=text, matches=matches)
            .execution_options(synchronize_session=False)
        )
    elif verdict.action == "flag" and post.state == PostState.published:
        lifecycle.enqueue(post, "rule", text=text, matches=matches)
    if not _is_author(actor, post) and not from_queue:
        audit.log(
            actor,
            "edit",
            "post",
            post.id,
            board_id=topic.board_id,
            summary=f"编辑《{topic.title}》中的帖子",
            reason=reason,
        )
        notices.notify_author(
            post, f"版主编辑了您在《{topic.title}》中的帖子" + (f"，说明：{reason}" if reason else "。")
        )
    return post


def delete_post(actor: Any, post: Post, reason: str) -> Post:
    """Soft-delete a post (the opening post takes its topic along); moderators must give a reason."""
    return _delete(actor, post, reason, from_queue=False)


def _delete(actor: Any, post: Post, reason: str, *, from_queue: bool) -> Post:
    topic = post.topic
    own = _is_author(actor, post)
    if not own and not _moderates_post(actor, post):
        raise Forbidden("您只能删除自己的帖子。")
    if post.state == PostState.deleted:
        raise DomainError("该帖子已经删除了。", "already_deleted")
    by_moderator = not own
    reason = clean_line(reason, "reason", "删除原因", 200, required=by_moderator) or "作者自行删除"
    lifecycle.withdraw(post, PostState.deleted)
    post.deleted_reason = reason
    db.session.flush()
    lifecycle.close_review(post, actor, "deleted", reason)
    lifecycle.resolve_flags(post)
    if by_moderator:
        if not from_queue:
            audit.log(
                actor,
                "delete",
                "post",
                post.id,
                board_id=topic.board_id,
                summary=f"删除《{topic.title}》中的帖子",
                reason=reason,
            )
        what = "主题" if lifecycle.is_opener(post) else "帖子"
        notices.notify_author(post, f"您在《{topic.title}》中的{what}已被版主删除，原因：{reason}")
    return post


# --- presentation helpers --------------------------------------------------------------------


def quote_markdown(post: Post) -> str:
    """What the reply box is prefilled with when quoting `post`."""
    name = _MARKDOWN_SPECIAL.sub(r"\\\1", post.author.display_name)
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in post.body.split("\n"))
    return f"> **{name}** 写道：\n{quoted}\n\n"


from forum import review as _review  # noqa: E402, F401  (registers the "post" review kind; imports this module)
