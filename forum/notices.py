"""Who hears of a forum post: mentions, topic followers, quoted authors, and the post's author
after a moderator decided; and the links those notifications carry."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete, func, select

from dangxiao.accounts.models import User, UserStatus
from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.notifications.service import notify, path_for
from dangxiao.queries import insert_ignore
from forum import mentions
from forum.boards import may_read
from forum.lifecycle import is_opener
from forum.models import Board, Post, PostState, ReadAccess, Subscription


def subscribe(user_id: int, topic_id: int) -> None:
    db.session.execute(insert_ignore(Subscription).values(user_id=user_id, topic_id=topic_id, created_at=utcnow()))


def _readers(board: Board, user_ids: set[int]) -> list[int]:
    """Which of `user_ids` are active and may read `board` (no User objects for open boards)."""
    if not user_ids:
        return []
    stmt = select(User.id).where(User.id.in_(user_ids), User.status == UserStatus.active).order_by(User.id)
    if board.read_access in (ReadAccess.public, ReadAccess.members):
        return list(db.session.scalars(stmt))
    users = db.session.scalars(select(User).where(User.id.in_(db.session.scalars(stmt).all())).order_by(User.id))
    return [user.id for user in users if may_read(user, board)]


def audience(post: Post, *, opener: bool) -> list[tuple[int, str, str]]:
    """Who hears of `post` once it is public, as (user_id, kind, text): the mentioned, and for a
    reply the topic's followers and the quoted author, each once, never the author.

    Only reads, so :func:`reply` runs it before its INSERT: SQLite holds its one write lock
    from a transaction's first write to its commit, and 20 concurrent writers must not wait
    behind each other's reads.
    """
    topic = post.topic
    board = topic.board
    name = post.author.display_name
    done = {post.author_id}
    out: list[tuple[int, str, str]] = []
    mentioned = [user.id for user in mentions.resolve(post.body) if user.id not in done]
    for user_id in _readers(board, set(mentioned)):
        out.append((user_id, "forum_mention", f"{name} 在《{topic.title}》中提到了您"))
        done.add(user_id)
    if opener:
        return out
    followers = select(Subscription.user_id).where(Subscription.topic_id == topic.id)
    if post.reply_to_id is not None:  # the quoted author hears of the answer too
        followers = followers.union(select(Post.author_id).where(Post.id == post.reply_to_id))
    if board.read_access in (ReadAccess.public, ReadAccess.members):  # one query: active followers
        readers = list(
            db.session.scalars(
                select(User.id)
                .where(User.id.in_(followers), User.id.not_in(done), User.status == UserStatus.active)
                .order_by(User.id)
            )
        )
    else:
        readers = _readers(board, set(db.session.scalars(followers)) - done)
    out.extend((user_id, "forum_reply", f"{name} 回复了主题《{topic.title}》") for user_id in readers)
    return out


def permalink(post: Post) -> str:
    """A link that finds the post wherever it ends up (/forum/p/<id> redirects to its page):
    what notifications carry, since replies and moves shift pages after they are sent."""
    return path_for("forum.post", post_id=post.id)


def send(post: Post, recipients: list[tuple[int, str, str]]) -> None:
    url = permalink(post) if recipients else ""
    for user_id, kind, text in recipients:
        notify(user_id, kind, text, url)


def announce(post: Post) -> None:
    """Tell the mentioned, the followers and the quoted author about a post that is now public."""
    send(post, audience(post, opener=is_opener(post)))


def notify_author(post: Post, text: str) -> None:
    notify(post.author_id, "forum_moderation", text, permalink(post))


def unsubscribe(user_id: int, topic_id: int) -> None:
    db.session.execute(delete(Subscription).where(Subscription.user_id == user_id, Subscription.topic_id == topic_id))


def post_url(post: Post) -> str:
    """The topic page holding `post` (published posts in order, the opening post first), anchored at it."""
    size = max(int(current_app.config.get("FORUM_PAGE_SIZE") or 20), 1)
    before = db.session.scalar(
        select(func.count())
        .select_from(Post)
        .where(Post.topic_id == post.topic_id, Post.state == PostState.published, Post.id < post.id)
    )
    page = (before or 0) // size + 1
    return path_for("forum.topic", topic_id=post.topic_id, page=page) + f"#p{post.id}"
