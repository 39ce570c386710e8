"""What members read in the forum: board list, topic lists, topic pages, read marks, who is reading.

Pure queries (no HTTP): the views and any other caller get the same visibility answer.
A board or topic the actor may not read is a :class:`NotFound` whatever the reason, so its
existence is not revealed. Every list is a fixed, small number of queries whatever its
length: unread marks come from an outer join in the listing query, post authors are
loaded with the posts, likes in one query. Counters kept on the rows (board counts,
``topic.reply_count``) stand in for COUNT(*) over posts, so a topic with thousands of
replies pages as fast as a short one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Integer, and_, bindparam, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import defer, joinedload, lazyload

from dangxiao.accounts.models import User
from dangxiao.db_types import aware, utcnow
from dangxiao.errors import NotFound
from dangxiao.extensions import db
from dangxiao.queries import MAX_ID
from forum.boards import may_read, moderates, moderates_any_board, readable_boards_stmt
from forum.models import Board, Post, PostLike, PostState, Topic, TopicRead

READERS_SHOWN = 20
READ_MARK_FRESH = timedelta(minutes=1)  # a read mark this recent is not rewritten by a view
BOARD_MISSING = "版块不存在。"
TOPIC_MISSING = "主题不存在或已被删除。"
POST_MISSING = "帖子不存在或已被删除。"


def _user_id(actor: Any) -> int | None:
    """The id of a logged-in member, None for visitors (and the CLI's SYSTEM)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    value = getattr(actor, "id", None)
    return value if isinstance(value, int) else None


def page_size() -> int:
    return int(current_app.config.get("FORUM_PAGE_SIZE", 20))


def _pages(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def _clamp(page: int | None, pages: int) -> int:
    """A requested page number as one that exists: missing/bad → 1, past the end → the last."""
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        return 1
    return min(page, pages)


def _unread_clause(user: Any) -> Any:
    """SQL truth of "has news for `user`" over Topic outer-joined with the user's TopicRead.

    Never opened: news if anything was posted after the account existed (old topics are
    not all "new" to a new member). Opened: news if the last post is past what was read.
    """
    return or_(
        and_(TopicRead.topic_id.is_(None), Topic.last_post_at > user.created_at),
        TopicRead.last_read_post_id < func.coalesce(Topic.last_post_id, 0),
    )


# --- visibility -----------------------------------------------------------------------------


def readable_board(actor: Any, board_id: Any) -> Board:
    """The board if `actor` may read it, else NotFound. Archived boards stay readable (read-only)."""
    board = _get(Board, board_id)
    if board is None or not may_read(actor, board):
        raise NotFound(BOARD_MISSING)
    return board


def may_see_topic(actor: Any, topic: Topic) -> bool:
    """Published topics for every reader of the board; held ones for their author; the rest for moderators."""
    if not may_read(actor, topic.board):
        return False
    if topic.state == PostState.published:
        return True
    if topic.state == PostState.held and _user_id(actor) == topic.author_id:
        return True
    return moderates(actor, topic.board, topic.author.branch_id)


# The board and author come in the same query (the board's moderator list is not needed here).
# Built once: every topic page starts with it.
_TOPIC = (
    select(Topic)
    .where(Topic.id == bindparam("topic_id"))
    .options(joinedload(Topic.board).lazyload(Board.moderators), joinedload(Topic.author).lazyload(User.roles))
)


def readable_topic(actor: Any, topic_id: Any) -> Topic:
    topic = None
    if _valid_id(topic_id):
        topic = db.session.execute(_TOPIC, {"topic_id": topic_id}).scalar_one_or_none()
    if topic is None or not may_see_topic(actor, topic):
        raise NotFound(TOPIC_MISSING)
    return topic


def may_see_post(actor: Any, post: Post) -> bool:
    if not may_see_topic(actor, post.topic):
        return False
    if post.state == PostState.published:
        return True
    if post.state == PostState.held and _user_id(actor) == post.author_id:
        return True
    return moderates(actor, post.topic.board, post.author.branch_id)


def readable_post(actor: Any, post_id: Any) -> Post:
    post = _get(Post, post_id)
    if post is None or not may_see_post(actor, post):
        raise NotFound(POST_MISSING)
    return post


def _valid_id(ident: Any) -> bool:
    return isinstance(ident, int) and not isinstance(ident, bool) and 0 < ident <= MAX_ID


def _get(model: Any, ident: Any, *options: Any) -> Any:
    if not _valid_id(ident):
        return None
    return db.session.get(model, ident, options=options)


# --- board list -----------------------------------------------------------------------------


@dataclass
class BoardRow:
    board: Board
    unread: bool = False  # a topic with posts the member has not read


def board_list(actor: Any) -> list[BoardRow]:
    """The boards `actor` may read, in board order, with a 新 mark for members (two queries)."""
    boards = list(db.session.scalars(readable_boards_stmt(actor)))
    rows = [BoardRow(board) for board in boards]
    uid = _user_id(actor)
    if uid is None or not boards:
        return rows
    unread_boards = set(
        db.session.scalars(
            select(Topic.board_id)
            .outerjoin(TopicRead, and_(TopicRead.topic_id == Topic.id, TopicRead.user_id == uid))
            .where(
                Topic.board_id.in_([b.id for b in boards]),
                Topic.state == PostState.published,
                Topic.last_post_at > actor.created_at,  # both unread cases imply it: narrows the scan
                _unread_clause(actor),
            )
            .distinct()
        )
    )
    for row in rows:
        row.unread = row.board.id in unread_boards
    return rows


# --- topic list -----------------------------------------------------------------------------


@dataclass
class TopicRow:
    topic: Topic
    unread: bool = False
    held: bool = False  # the actor's own topic waiting for a moderator (待审核)


@dataclass
class TopicsPage:
    board: Board
    rows: list[TopicRow]
    total: int
    page: int
    pages: int


def topics_page(actor: Any, board: Board, page: int | None) -> TopicsPage:
    """Published topics of `board` (and the actor's own held ones), pinned first, newest activity next.

    Two queries: a count and the page, the page carrying authors and the unread mark.
    """
    uid = _user_id(actor)
    visible = Topic.state == PostState.published
    if uid is not None:
        visible = or_(visible, and_(Topic.state == PostState.held, Topic.author_id == uid))
    where = (Topic.board_id == board.id, visible)
    size = page_size()
    total = db.session.scalar(select(func.count(Topic.id)).where(*where)) or 0
    pages = _pages(total, size)
    page = _clamp(page, pages)
    stmt = (
        select(Topic)
        .where(*where)
        .options(joinedload(Topic.author).lazyload(User.roles), joinedload(Topic.last_author).lazyload(User.roles))
        .order_by(Topic.pinned.desc(), Topic.last_post_at.desc(), Topic.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    if uid is None:
        rows = [TopicRow(t) for t in db.session.scalars(stmt)]
    else:
        stmt = stmt.outerjoin(TopicRead, and_(TopicRead.topic_id == Topic.id, TopicRead.user_id == uid)).add_columns(
            case((_unread_clause(actor), True), else_=False)
        )
        rows = [
            TopicRow(t, unread=bool(unread) and t.state == PostState.published, held=t.state == PostState.held)
            for t, unread in db.session.execute(stmt)
        ]
    return TopicsPage(board=board, rows=rows, total=total, page=page, pages=pages)


# --- topic page -----------------------------------------------------------------------------


@dataclass
class PostsPage:
    topic: Topic
    posts: list[Post]
    total: int
    page: int
    pages: int
    first_number: int  # the floor (楼) number of the first post on the page
    liked: set[int] = field(default_factory=set)  # ids of posts on the page the actor liked
    moderator: bool = False  # the actor moderates the board (sees held/deleted posts greyed)
    member: bool = False  # a logged-in member: the view leaves a read mark
    read_up_to: int | None = None  # the member's read mark before this view (None: never opened)
    read_seen_at: datetime | None = None

    @property
    def last_post_id(self) -> int:
        return max((p.id for p in self.posts), default=0)

    @property
    def read_mark_stale(self) -> bool:
        """Does this view need :func:`mark_read` (a write and a commit)?

        Not when the member's mark already covers the page and was refreshed within the last
        minute: paging back and forth or reloading then costs no write. "Who is reading" looks
        FORUM_READING_MINUTES back (several minutes), so a minute-old mark still counts.
        """
        if not self.member or not self.posts:
            return False
        if self.read_up_to is None or self.read_up_to < self.last_post_id or self.read_seen_at is None:
            return True
        return aware(self.read_seen_at) < utcnow() - READ_MARK_FRESH


# The topic page's statements, built once: a page view then binds values instead of building
# and hashing (for SQLAlchemy's statement cache) a select with its loader options each time.
# Extras: "own" = the member's own held posts, "all" = every unpublished post (moderators).
_EXTRA = {
    "own": and_(Post.state == PostState.held, Post.author_id == bindparam("uid")),
    "all": Post.state != PostState.published,
}
_READ_MARK = select(TopicRead.last_read_post_id, TopicRead.seen_at).where(
    TopicRead.topic_id == bindparam("topic_id"), TopicRead.user_id == bindparam("uid")
)
# A member's view of a topic in one statement: how many unpublished posts they may also see,
# and their read mark (to skip rewriting a fresh one: see PostsPage.read_mark_stale).
_MEMBER_STATE = {
    kind: select(
        select(func.count(Post.id)).where(Post.topic_id == bindparam("topic_id"), clause).scalar_subquery(),
        _READ_MARK.with_only_columns(TopicRead.last_read_post_id).scalar_subquery(),
        _READ_MARK.with_only_columns(TopicRead.seen_at).scalar_subquery(),
    )
    for kind, clause in _EXTRA.items()
}
_PAGE_OPTIONS = (
    defer(Post.body),  # the Markdown source: quoting and editing load it on their own
    defer(Post.content_hash),
    # Authors with their branch, in the same query (the page shows both).
    joinedload(Post.author).options(joinedload(User.branch), lazyload(User.roles)),
)
_page_statements: dict[tuple[str | None, bool, bool], Any] = {}


def _page_stmt(extra: str | None, skip: bool, likes: bool) -> Any:
    """``select(Post[, liked])`` for one page, binding topic_id, size, and skip / uid when used."""
    key = (extra, skip, likes)
    stmt = _page_statements.get(key)
    if stmt is not None:
        return stmt
    visible: Any = Post.state == PostState.published
    if extra is not None:
        visible = or_(visible, _EXTRA[extra])
    where: list[Any] = [Post.topic_id == bindparam("topic_id"), visible]
    if skip:
        # Skip to the page's first post on the narrow (topic_id, state, id) index, then read the
        # page from there: an OFFSET over the joined rows walks every earlier post's author too.
        first = select(Post.id).where(*where).order_by(Post.id).limit(1).offset(bindparam("skip", type_=Integer))
        where.append(Post.id >= first.scalar_subquery())
    stmt = select(Post).where(*where).options(*_PAGE_OPTIONS).order_by(Post.id).limit(bindparam("size", type_=Integer))
    if likes:
        # The member's likes on the page come with it: an outer join on the (post_id, user_id) key.
        stmt = stmt.outerjoin(
            PostLike, and_(PostLike.post_id == Post.id, PostLike.user_id == bindparam("uid"))
        ).add_columns(PostLike.user_id.is_not(None))
    _page_statements[key] = stmt
    return stmt


def posts_page(actor: Any, topic: Topic, page: int | None) -> PostsPage:
    """One page of `topic` in posting order: published posts, the actor's own held ones, and for
    moderators of the board every post (held, rejected, deleted) so they can act on them.

    Queries: for members one statement with the count of the non-published extras they may
    see (usually zero: the page is then served from ``topic.reply_count``) and their read mark;
    then the page itself with authors, their branches and the member's likes joined.
    """
    uid = _user_id(actor)
    board = topic.board
    moderator = moderates_any_board(actor, board)
    size = page_size()
    extra = "all" if moderator else ("own" if uid is not None else None)
    params: dict[str, Any] = {"topic_id": topic.id, "uid": uid, "size": size}
    extras, read_up_to, read_seen_at = 0, None, None
    if extra is not None:
        extras, read_up_to, read_seen_at = db.session.execute(_MEMBER_STATE[extra], params).one()
        extras = extras or 0
    published = topic.reply_count + (1 if topic.state == PostState.published else 0)
    total = published + extras
    pages = _pages(total, size)
    page = _clamp(page, pages)
    params["skip"] = (page - 1) * size
    stmt = _page_stmt(extra if extras else None, page > 1, uid is not None)
    liked: set[int] = set()
    if uid is None:
        posts = list(db.session.scalars(stmt, params))
    else:
        posts = []
        for post, like in db.session.execute(stmt, params):
            posts.append(post)
            if like:
                liked.add(post.id)
    if moderator and extras:
        # A moderator scoped to a branch sees others' unpublished posts only within the scope.
        posts = [
            p
            for p in posts
            if p.state == PostState.published or p.author_id == uid or moderates(actor, board, p.author.branch_id)
        ]
    return PostsPage(
        topic=topic,
        posts=posts,
        total=total,
        page=page,
        pages=pages,
        first_number=(page - 1) * size + 1,
        liked=liked,
        moderator=moderator,
        member=uid is not None,
        read_up_to=read_up_to,
        read_seen_at=read_seen_at,
    )


def accepted_post(actor: Any, topic: Topic) -> Post | None:
    """The accepted answer of a question topic, if it is published (or otherwise visible to the actor)."""
    if topic.accepted_post_id is None:
        return None
    post = db.session.get(Post, topic.accepted_post_id, options=[joinedload(Post.author)])
    if post is None or post.topic_id != topic.id or not may_see_post(actor, post):
        return None
    return post


# --- read marks -----------------------------------------------------------------------------


def mark_read(actor: Any, topic: Topic, last_post_id: int) -> None:
    """Remember that `actor` has read `topic` up to `last_post_id`, and is reading it now.

    One INSERT … ON CONFLICT DO UPDATE on both databases: two first reads at once (two
    tabs) cannot collide, and the mark never moves backwards (reading page 1 again after
    page 3 keeps page 3). Visitors leave no mark.
    """
    uid = _user_id(actor)
    if uid is None:
        return
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(TopicRead).values(
        topic_id=topic.id, user_id=uid, last_read_post_id=max(0, int(last_post_id or 0)), seen_at=utcnow()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[TopicRead.topic_id, TopicRead.user_id],
        set_={
            "last_read_post_id": case(
                (
                    TopicRead.last_read_post_id < stmt.excluded.last_read_post_id,
                    stmt.excluded.last_read_post_id,
                ),
                else_=TopicRead.last_read_post_id,
            ),
            "seen_at": stmt.excluded.seen_at,
        },
    )
    db.session.execute(stmt)


def is_unread(actor: Any, topic: Topic) -> bool:
    """The topic-list mark for one topic (tests and single-topic callers)."""
    uid = _user_id(actor)
    if uid is None:
        return False
    read = db.session.get(TopicRead, (topic.id, uid))
    if read is None:
        return aware(topic.last_post_at) > aware(actor.created_at)
    return read.last_read_post_id < (topic.last_post_id or 0)


# --- who is reading -------------------------------------------------------------------------


_READERS = (
    select(User.display_name, func.count().over())
    .join(TopicRead, TopicRead.user_id == User.id)
    .where(TopicRead.topic_id == bindparam("topic_id"), TopicRead.seen_at >= bindparam("since"))
    .order_by(TopicRead.seen_at.desc(), User.id)
    .limit(READERS_SHOWN)
)
_READERS_BUT = _READERS.where(TopicRead.user_id != bindparam("exclude"))


def who_is_reading(topic: Topic, *, exclude_user_id: int | None = None) -> list[str]:
    """Display names of members who had `topic` open in the last FORUM_READING_MINUTES, most
    recent first: at most 20 names, then "等N人" (N all of them) when there are more."""
    minutes = int(current_app.config.get("FORUM_READING_MINUTES", 5))
    params = {"topic_id": topic.id, "since": utcnow() - timedelta(minutes=minutes), "exclude": exclude_user_id}
    rows = db.session.execute(_READERS if exclude_user_id is None else _READERS_BUT, params).all()
    names = [name for name, _ in rows]
    total = rows[0][1] if rows else 0
    if total > len(names):
        names.append(f"等{total}人")
    return names


def reading_line(names: list[str]) -> str:
    """["张三", "李四", "等25人"] → "张三、李四等25人" (the "等N人" tail takes no separator)."""
    if names and names[-1].startswith("等") and names[-1].endswith("人") and len(names) > 1:
        return "、".join(names[:-1]) + names[-1]
    return "、".join(names)
