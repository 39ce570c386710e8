"""20 writers posting 100 replies each into one topic at once, on SQLite and PostgreSQL.

Every reply goes through forum.posting.reply in its own transaction, as a request would.
The counters are single ``x = x + 1`` UPDATEs, so none may be lost; SQLite writers wait
for each other through the app's busy timeout (WAL), with no retry loop in the service.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from dangxiao.accounts.models import User
from dangxiao.extensions import db
from dangxiao.notifications.models import Notification
from dangxiao.transactions import atomic
from forum import posting
from forum.models import Board, Post, PostState, Topic
from tests.forum.test_posting import make_board

WRITERS = 20
REPLIES = 100


@pytest.fixture
def app_config(app_config):
    """One pooled connection per writer thread, as a server running 20 worker threads is configured
    (the default pool of 5 + 10 overflow would make the 16th writer queue for a connection)."""
    return {**app_config, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": WRITERS + 2}}


def test_twenty_writers_post_two_thousand_replies_into_one_topic(app, create_user):
    app.config.update(
        FORUM_REPLIES_PER_MINUTE=10 * REPLIES,
        FORUM_NEW_REPLIES_PER_MINUTE=10 * REPLIES,
        FORUM_NEW_ACCOUNT_DAYS=0,
    )
    starter = create_user("starter", display_name="发起人")
    writers = [create_user(f"writer{n}") for n in range(WRITERS)]
    with app.app_context():
        board_id = make_board("学习心得")
        with atomic():
            opener = posting.create_topic(
                db.session.get(User, starter), db.session.get(Board, board_id), "并发测试主题", "开始"
            )
            topic_id, opener_id = opener.topic_id, opener.id

    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(user_id: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for n in range(REPLIES):
                    with atomic():
                        user, topic = db.session.get(User, user_id), db.session.get(Topic, topic_id)
                        posting.reply(user, topic, f"写手{user_id}的第{n}条回复")
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 — collected and asserted below
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=write, args=(user_id,)) for user_id in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    print(f"\n{WRITERS}×{REPLIES} replies in {elapsed:.1f} s")

    assert errors == [], [repr(e)[:300] for e in errors[:5]]
    with app.app_context():
        stored = db.session.scalar(
            select(func.count())
            .select_from(Post)
            .where(Post.topic_id == topic_id, Post.state == PostState.published, Post.id != opener_id)
        )
        topic, board = db.session.get(Topic, topic_id), db.session.get(Board, board_id)
        last = db.session.scalar(select(func.max(Post.id)).where(Post.topic_id == topic_id))
        assert stored == WRITERS * REPLIES
        assert topic.reply_count == WRITERS * REPLIES
        assert (board.post_count, board.topic_count) == (WRITERS * REPLIES + 1, 1)
        assert topic.last_post_id == last
        per_writer = dict(
            db.session.execute(
                select(Post.author_id, func.count()).where(Post.topic_id == topic_id).group_by(Post.author_id)
            ).all()
        )
        assert all(per_writer[w] == REPLIES for w in writers)
        told = db.session.scalar(select(func.count()).select_from(Notification).where(Notification.user_id == starter))
        assert told == WRITERS * REPLIES  # the topic's author hears of every reply
