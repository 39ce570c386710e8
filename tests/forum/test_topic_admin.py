"""Pin, lock, move and edit history: board moderators only, audited, counters kept right."""

from __future__ import annotations

from sqlalchemy import select

from dangxiao.accounts.models import User
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum import posting, topic_admin
from forum.models import Approval, Board, Post, PostState, Topic
from forum.moderation.models import AuditEntry, ReviewItem
from tests.forum import test_posting
from tests.forum.test_posting import add_board_moderator, counts, get, note, notes, refused, reply_by, topic_by

world = test_posting.world  # the shared fixture: boards, members, moderators


def _audit() -> list[tuple[str, int | None, int | None]]:
    rows = db.session.execute(
        select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.board_id).order_by(AuditEntry.id)
    )
    return [tuple(r) for r in rows]


def test_pin_lock_and_move_by_board_moderators_only(world):
    opener = topic_by(world.author, world.board)
    topic_id = opener.topic_id
    reply_by(world.other, topic_id, "第一条回复")
    with atomic():
        get(Board, world.board).approval = Approval.all
    waiting = reply_by(world.other, topic_id, "等待审核的回复")
    assert waiting.state == PostState.held
    waiting_id = waiting.id
    for actor in (world.other, world.othermod):
        refused("forbidden", topic_admin.set_pinned, get(User, actor), get(Topic, topic_id), True)
        refused("forbidden", topic_admin.set_locked, get(User, actor), get(Topic, topic_id), True)
    with atomic():
        topic_admin.set_pinned(get(User, world.mod), get(Topic, topic_id), True)
        topic_admin.set_pinned(get(User, world.mod), get(Topic, topic_id), True)  # no change: no entry
        topic_admin.set_locked(get(User, world.mod), get(Topic, topic_id), True)
    topic = get(Topic, topic_id)
    assert (topic.pinned, topic.locked) == (True, True)
    assert _audit() == [("pin", world.mod, world.board), ("lock", world.mod, world.board)]

    # Move: the actor must moderate both boards; counters move along, so do open queue items.
    refused(
        "forbidden", topic_admin.move_topic, get(User, world.mod), get(Topic, topic_id), get(Board, world.other_board)
    )
    refused("same_board", topic_admin.move_topic, get(User, world.mod), get(Topic, topic_id), get(Board, world.board))
    add_board_moderator(world.other_board, world.mod)
    db.session.expunge_all()  # a fresh request: the moderator's board list is cached per user object
    with atomic():
        topic_admin.move_topic(
            get(User, world.mod), get(Topic, topic_id), get(Board, world.other_board), "更适合时政版块"
        )
    assert counts(topic_id, world.board) == (1, 0, 0)
    assert counts(topic_id, world.other_board) == (1, 1, 2)
    assert db.session.scalar(select(ReviewItem.board_id).where(ReviewItem.object_id == waiting_id)) == world.other_board
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "move"))
    assert (entry.summary, entry.reason) == ("《学习心得交流》从「学习心得」移到「时政信息」", "更适合时政版块")
    assert note("forum_moderation", "您的主题《学习心得交流》已被版主移到「时政信息」版块。") in notes(world.author)


def test_revisions_for_moderators_and_the_author_only(world):
    opener = topic_by(world.author, world.board)
    with atomic():
        posting.edit_post(get(User, world.author), get(Post, opener.id), "第二版内容", title="改过的标题")
    with atomic():
        posting.edit_post(get(User, world.mod), get(Post, opener.id), "第三版内容", reason="版主修订")
    for actor in (world.author, world.mod):
        revisions = topic_admin.revisions(get(User, actor), get(Post, opener.id))
        assert [(r.title, r.body, r.editor_id) for r in revisions] == [
            ("学习心得交流", "第一次发帖，请多指教。", world.author),
            ("改过的标题", "第二版内容", world.mod),
        ]
    refused("forbidden", topic_admin.revisions, get(User, world.other), get(Post, opener.id))
    refused("forbidden", topic_admin.revisions, get(User, world.othermod), get(Post, opener.id))
