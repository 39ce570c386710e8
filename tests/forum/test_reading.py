"""forum.reading: visibility, topic lists with unread marks, topic pages in few queries, read marks, readers.

Rows are made directly (as the posting service leaves them: counters and last-post columns
set) so these tests cover the read side alone; tests/forum/test_forum_pages.py posts through
the real services.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from dangxiao.accounts.models import User
from dangxiao.db_types import utcnow
from dangxiao.errors import NotFound
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum import reading
from forum.models import Board, BoardModerator, Post, PostLike, PostState, ReadAccess, Topic, TopicKind, TopicRead

# --- row factories (also used by test_forum_pages) -------------------------------------------


def make_board(app, name: str = "学习心得", read_access: ReadAccess = ReadAccess.public, **fields) -> int:
    with app.app_context(), atomic():
        board = Board(name=name, read_access=read_access, **fields)
        db.session.add(board)
        db.session.flush()
        return board.id


def make_topic(
    app,
    board_id: int,
    author_id: int,
    title: str = "学习二十大精神的体会",
    *,
    replies: int = 0,
    reply_author_id: int | None = None,
    state: PostState = PostState.published,
    kind: TopicKind = TopicKind.discussion,
    pinned: bool = False,
    at=None,
) -> int:
    """A topic with its opening post and `replies` published replies, counters as posting leaves them."""
    at = at or utcnow()
    with app.app_context(), atomic():
        topic = Topic(
            board_id=board_id,
            author_id=author_id,
            title=title,
            kind=kind,
            state=state,
            pinned=pinned,
            created_at=at,
            last_post_at=at,
        )
        db.session.add(topic)
        db.session.flush()
        posts = []
        for n in range(replies + 1):
            body = "开篇：认真学习。" if n == 0 else f"第 {n} 楼的回复，结合工作谈体会。"
            posts.append(
                Post(
                    topic_id=topic.id,
                    author_id=author_id if n == 0 else (reply_author_id or author_id),
                    body=body,
                    body_html=f"<p>{body}</p>",
                    state=state if n == 0 else PostState.published,
                    content_hash=hashlib.sha256(f"{topic.id}-{n}".encode()).hexdigest(),
                    created_at=at + timedelta(seconds=n),
                )
            )
        db.session.add_all(posts)
        db.session.flush()
        topic.first_post_id = posts[0].id
        topic.last_post_id = posts[-1].id
        topic.last_post_at = posts[-1].created_at
        topic.last_author_id = posts[-1].author_id
        topic.reply_count = replies
        if state == PostState.published:
            board = db.session.get(Board, board_id)
            board.topic_count += 1
            board.post_count += replies + 1
            board.last_post_at = topic.last_post_at
        return topic.id


def add_reply(
    app, topic_id: int, author_id: int, state: PostState = PostState.published, body: str = "补充一点"
) -> int:
    with app.app_context(), atomic():
        topic = db.session.get(Topic, topic_id)
        post = Post(
            topic_id=topic_id,
            author_id=author_id,
            body=body,
            body_html=f"<p>{body}</p>",
            state=state,
            content_hash=hashlib.sha256(f"{topic_id}-{utcnow()}".encode()).hexdigest(),
            created_at=utcnow(),
        )
        db.session.add(post)
        db.session.flush()
        if state == PostState.published:
            topic.reply_count += 1
            topic.last_post_id, topic.last_post_at, topic.last_author_id = post.id, post.created_at, author_id
        return post.id


@contextmanager
def count_queries():
    """Collect the SQL statements run inside the block (app context required)."""
    statements: list[str] = []
    engine = db.engine

    def listener(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


class Anonymous:
    is_authenticated = False
    is_active = False


# --- tests -----------------------------------------------------------------------------------


def test_visibility_by_board_access_and_state(app, create_user, create_branch):
    town = create_branch("城关镇党总支", kind="general_branch")
    east = create_branch("东街村党支部", parent=town)
    west = create_branch("西街村党支部", parent=town)
    member = create_user("east1", branch=east)
    other = create_user("west1", branch=west)
    public = make_board(app, "时政信息")
    members = make_board(app, "组织建设", ReadAccess.members)
    branch = make_board(app, "东街支部园地", ReadAccess.branch, branch_id=east)
    held = make_topic(app, public, member, "待审核的主题", state=PostState.held)
    in_branch = make_topic(app, branch, member)
    with app.app_context():
        anon = Anonymous()
        assert reading.readable_board(anon, public).id == public
        for board_id in (members, branch, 10**12, None):
            with pytest.raises(NotFound):
                reading.readable_board(anon, board_id)
        with pytest.raises(NotFound):
            reading.readable_board(user(other), branch)
        with pytest.raises(NotFound):
            reading.readable_topic(user(other), in_branch)
        assert reading.readable_topic(user(member), in_branch).id == in_branch
        # A held topic: its author sees it, other members and visitors do not.
        assert reading.readable_topic(user(member), held).id == held
        for actor in (anon, user(other)):
            with pytest.raises(NotFound):
                reading.readable_topic(actor, held)
        names = [row.board.name for row in reading.board_list(user(other))]
        assert names == ["时政信息", "组织建设"]
        assert [row.board.name for row in reading.board_list(anon)] == ["时政信息"]


def test_topic_list_order_unread_marks_and_own_held(app, create_user):
    author = create_user("author")
    reader = create_user("reader")
    board = make_board(app)
    old = make_topic(app, board, author, "很久以前的主题", at=utcnow() - timedelta(days=30))
    first = make_topic(app, board, author, "第一个主题", replies=2)
    pinned = make_topic(app, board, author, "置顶的通知", pinned=True)
    held = make_topic(app, board, reader, "读者待审核的主题", state=PostState.held, at=utcnow() + timedelta(seconds=10))
    with app.app_context():
        page = reading.topics_page(user(reader), db.session.get(Board, board), 1)
        order = [(row.topic.id, row.unread, row.held) for row in page.rows]
        # Pinned first; then by last activity. Older than the account: not new. Own held: listed, marked.
        assert order == [(pinned, True, False), (held, False, True), (first, True, False), (old, False, False)]
        assert page.total == 4 and page.pages == 1
        others = reading.topics_page(user(author), db.session.get(Board, board), 1)
        assert held not in [row.topic.id for row in others.rows]

        # Reading marks it read; a new reply makes it new again; reading page 1 again does not go back.
        topic = db.session.get(Topic, first)
        with atomic():
            reading.mark_read(user(reader), topic, topic.last_post_id)
        assert not reading.is_unread(user(reader), db.session.get(Topic, first))
    reply = add_reply(app, first, author)
    with app.app_context():
        topic = db.session.get(Topic, first)
        assert reading.is_unread(user(reader), topic)
        with atomic():
            reading.mark_read(user(reader), topic, reply)
            reading.mark_read(user(reader), topic, topic.first_post_id)  # page 1 again
            reading.mark_read(user(reader), topic, topic.first_post_id)
        assert db.session.get(TopicRead, (first, reader)).last_read_post_id == reply
        rows = {row.topic.id: row.unread for row in reading.topics_page(user(reader), topic.board, 1).rows}
        assert rows[first] is False
        boards = reading.board_list(user(reader))
        assert boards[0].unread is True  # the pinned topic is still unread
        with atomic():
            reading.mark_read(user(reader), db.session.get(Topic, pinned), 10**6)
        assert reading.board_list(user(reader))[0].unread is False


def test_posts_page_visibility_likes_and_query_count(app, create_user, create_branch):
    app.config["FORUM_PAGE_SIZE"] = 50
    branch = create_branch("东街村党支部")
    author = create_user("author", branch=branch)
    member = create_user("member", branch=branch)
    mod = create_user("mod")
    board = make_board(app)
    topic_id = make_topic(app, board, author, replies=59, reply_author_id=member)
    held = add_reply(app, topic_id, member, PostState.held)
    deleted = add_reply(app, topic_id, author, PostState.deleted)
    with app.app_context(), atomic():
        db.session.add(BoardModerator(board_id=board, user_id=mod))
        topic = db.session.get(Topic, topic_id)
        liked = [topic.first_post_id, topic.first_post_id + 3]
        db.session.add_all([PostLike(post_id=pid, user_id=member) for pid in liked])
    with app.app_context():
        topic = db.session.get(Topic, topic_id)
        anon = reading.posts_page(Anonymous(), topic, 2)
        assert (anon.total, anon.pages, anon.page, len(anon.posts), anon.first_number) == (60, 2, 2, 10, 51)
        assert all(p.state == PostState.published for p in anon.posts)
        past = reading.posts_page(Anonymous(), topic, 99)
        assert past.page == 2 and reading.posts_page(Anonymous(), topic, None).page == 1

        viewer = user(member)
        viewer.roles  # noqa: B018 — loaded by login in a request; not part of the page's cost
        with count_queries() as statements:
            page = reading.posts_page(viewer, topic, 1)
            names = [(p.author.display_name, p.author.branch.name) for p in page.posts]
        assert len(page.posts) == 50 and names[1] == ("member", "东街村党支部")
        assert page.liked == set(liked)
        assert len(statements) <= 3, statements  # extras and read mark; the page with likes; moderator rows
        mine = reading.posts_page(viewer, topic, 2)
        assert held in [p.id for p in mine.posts] and deleted not in [p.id for p in mine.posts]
        assert mine.total == 61

        modpage = reading.posts_page(user(mod), topic, 2)
        assert modpage.moderator and {held, deleted} <= {p.id for p in modpage.posts}
        assert reading.posts_page(user(author), topic, 2).total == 60


def test_who_is_reading_recent_members_only(app, create_user):
    app.config["FORUM_READING_MINUTES"] = 5
    author = create_user("author", display_name="张三")
    board = make_board(app)
    topic_id = make_topic(app, board, author)
    readers = [create_user(f"r{n}", display_name=f"读者{n:02d}") for n in range(22)]
    with app.app_context(), atomic():
        now = utcnow()
        for n, uid in enumerate(readers):
            db.session.add(TopicRead(topic_id=topic_id, user_id=uid, seen_at=now - timedelta(seconds=n)))
        db.session.add(TopicRead(topic_id=topic_id, user_id=author, seen_at=now - timedelta(minutes=6)))
    with app.app_context():
        topic = db.session.get(Topic, topic_id)
        names = reading.who_is_reading(topic)
        assert len(names) == 21 and names[0] == "读者00" and names[-1] == "等22人" and "张三" not in names
        assert reading.reading_line(names).endswith("读者19等22人")
        assert "读者00" not in reading.who_is_reading(topic, exclude_user_id=readers[0])
        with atomic():
            db.session.execute(TopicRead.__table__.delete().where(TopicRead.user_id.in_(readers[2:])))
        assert reading.reading_line(reading.who_is_reading(topic)) == "读者00、读者01"
        assert db.session.scalar(select(TopicRead.user_id).where(TopicRead.user_id == author)) == author


def test_page_boundaries_and_read_mark_kept_without_rewrites(app, create_user):
    """Pages start where the previous one ended (the page query skips ahead on the narrow index),
    for members and for moderators who also see unpublished posts; a view whose posts the read
    mark already covers, refreshed within the minute, leaves the mark alone (no write)."""
    app.config["FORUM_PAGE_SIZE"] = 4
    author, member, mod = create_user("author"), create_user("member"), create_user("mod")
    board = make_board(app)
    topic_id = make_topic(app, board, author, replies=6)
    held = add_reply(app, topic_id, author, PostState.held)
    deleted = add_reply(app, topic_id, author, PostState.deleted)
    last = add_reply(app, topic_id, author)
    with app.app_context(), atomic():
        db.session.add(BoardModerator(board_id=board, user_id=mod))
    with app.app_context():
        topic = db.session.get(Topic, topic_id)
        every = list(db.session.scalars(select(Post.id).where(Post.topic_id == topic_id).order_by(Post.id)))
        published = [pid for pid in every if pid not in (held, deleted)]

        def ids(actor, page):
            return [p.id for p in reading.posts_page(actor, topic, page).posts]

        assert ids(user(member), 1) + ids(user(member), 2) == published and ids(user(member), 2)[-1] == last
        assert sum((ids(user(mod), n) for n in (1, 2, 3)), []) == every
        assert reading.posts_page(user(mod), topic, 3).first_number == 9

        viewer = user(member)
        second = reading.posts_page(viewer, topic, 2)
        assert second.read_mark_stale  # never opened
        with atomic():
            reading.mark_read(viewer, topic, second.last_post_id)
        seen = db.session.get(TopicRead, (topic_id, member)).seen_at
        viewer = user(member)
        topic = reading.readable_topic(viewer, topic_id)  # as the page loads it
        with count_queries() as statements:
            again = reading.posts_page(viewer, topic, 1)
        assert not again.read_mark_stale and len(statements) <= 2, statements  # covered, fresh: no write
        assert reading.posts_page(Anonymous(), topic, 1).read_mark_stale is False
        with atomic():
            db.session.execute(TopicRead.__table__.update().values(seen_at=seen - timedelta(minutes=2, seconds=1)))
        assert reading.posts_page(user(member), topic, 1).read_mark_stale  # a stale "who is reading" time
