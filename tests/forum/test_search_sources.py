"""Forum and help-desk documents in search, on both databases: readers find only what they may
read (results and counts), and the index follows posting, holds, deletes, edits and moves as
soon as the change commits."""

from __future__ import annotations

from flask_login import AnonymousUserMixin
from sqlalchemy import select

from dangxiao.accounts.models import User
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.search.models import SearchDoc
from dangxiao.search.service import search
from dangxiao.transactions import atomic
from forum import posting, reactions, topic_admin
from forum.helpdesk import faq, requests
from forum.helpdesk import review as help_review
from forum.models import Board, Post, PostState, ReadAccess, Topic
from forum.moderation import rules
from tests.forum import test_posting
from tests.forum.test_posting import add_board_moderator, get, make_board, reply_by, topic_by

world = test_posting.world  # the shared fixture: two branches, members, moderators, four boards


def found(actor, q: str, **filters) -> set[tuple[str, int]]:
    return {(hit.kind, hit.ref_id) for hit in search(actor, q, per_page=50, **filters).hits}


def user(user_id: int) -> User:
    return get(User, user_id)


def test_a_branch_board_thread_is_found_and_counted_only_inside_its_branch(world):
    public = make_board("公开园地", read_access=ReadAccess.public)
    inside = topic_by(world.author, world.branch_board, "本支部三会一课安排", "本月三会一课定在周五下午。")
    answer = reply_by(world.other, inside.topic_id, "收到，三会一课准时参加。")
    outside = topic_by(world.author, public, "谈谈三会一课的体会", "三会一课是党的组织生活基本制度。")

    results = search(user(world.other), "三会一课")
    assert {(h.kind, h.ref_id) for h in results.hits} == {
        ("topic", inside.topic_id),
        ("post", answer.id),
        ("topic", outside.topic_id),
    }
    assert (results.total, results.counts.get("topic"), results.counts.get("post")) == (3, 2, 1)

    stranger = search(user(world.outsider), "三会一课")  # a member of the other branch
    assert {(h.kind, h.ref_id) for h in stranger.hits} == {("topic", outside.topic_id)}
    assert (stranger.total, stranger.counts.get("topic", 0), stranger.counts.get("post", 0)) == (1, 1, 0)
    assert found(AnonymousUserMixin(), "三会一课") == {("topic", outside.topic_id)}
    assert found(user(world.outsider), "三会一课", board_id=world.branch_board) == set()


def test_a_board_made_private_hides_its_threads_at_once_without_a_reindex(world):
    opener = topic_by(world.author, world.board, "两学一做心得", "推进两学一做学习教育常态化制度化。")
    assert found(user(world.outsider), "两学一做") == {("topic", opener.topic_id)}
    indexed = db.session.execute(select(SearchDoc.kind, SearchDoc.ref_id, SearchDoc.indexed_at)).all()
    with atomic():
        board = get(Board, world.board)
        board.read_access, board.branch_id = ReadAccess.branch, world.branch_a
    assert found(user(world.outsider), "两学一做") == set()
    assert found(user(world.other), "两学一做") == {("topic", opener.topic_id)}
    assert db.session.execute(select(SearchDoc.kind, SearchDoc.ref_id, SearchDoc.indexed_at)).all() == indexed


def test_held_and_deleted_posts_leave_the_results_with_the_commit(world):
    opener = topic_by(world.author, world.board, "学习交流", "欢迎大家交流学习体会。")
    flagged = reply_by(world.other, opener.topic_id, "流动党员怎样参加组织生活？")
    deleted = reply_by(world.zhang, opener.topic_id, "流动党员可以就近参加组织生活。")
    kept = reply_by(world.author, opener.topic_id, "流动党员要按时报到。")
    assert found(user(world.other), "流动党员") == {("post", flagged.id), ("post", deleted.id), ("post", kept.id)}

    with atomic():
        get(Board, world.board).flag_threshold = 1
    with atomic():  # one flag hides it pending review (a conditional UPDATE, then the ORM)
        reactions.flag_post(user(world.author), get(Post, flagged.id), "spam")
    with atomic():
        posting.delete_post(user(world.zhang), get(Post, deleted.id), "")
    assert get(Post, flagged.id).state == PostState.held
    assert found(user(world.other), "流动党员") == {("post", kept.id)}  # its own author no longer finds it either

    # The opening post deleted takes the topic and every reply out of the results.
    with atomic():
        posting.delete_post(user(world.mod), get(Post, opener.id), "重复主题")
    assert found(user(world.mod), "流动党员") == set()
    assert db.session.scalars(select(SearchDoc.kind)).all() == []


def test_an_edited_post_is_found_by_its_new_words_and_a_new_title_reaches_the_replies(world):
    opener = topic_by(world.author, world.board, "学习笔记", "学习党章的一点笔记。")
    answer = reply_by(world.other, opener.topic_id, "写得好，我也在学党章。")
    with atomic():
        posting.edit_post(user(world.other), get(Post, answer.id), "改为讨论主题教育的收获。")
    assert found(user(world.other), "党章") == {("topic", opener.topic_id)}
    assert found(user(world.other), "主题教育") == {("post", answer.id)}

    with atomic():
        posting.edit_post(user(world.author), get(Post, opener.id), "学习党章的一点笔记。", title="读书分享会纪要")
    hits = search(user(world.other), "读书分享会").hits
    assert {(h.kind, h.ref_id) for h in hits} == {("topic", opener.topic_id), ("post", answer.id)}


def test_a_moved_topic_and_its_replies_carry_the_new_board_filter(world):
    opener = topic_by(world.author, world.board, "组织生活会准备", "组织生活会前要开展谈心谈话。")
    answer = reply_by(world.other, opener.topic_id, "谈心谈话要真诚。")
    both = {("topic", opener.topic_id), ("post", answer.id)}
    topic_id = opener.topic_id
    add_board_moderator(world.other_board, world.mod)
    db.session.expunge_all()  # a fresh request: the moderator's board list is cached per user object
    with atomic():
        topic_admin.move_topic(user(world.mod), get(Topic, topic_id), get(Board, world.other_board))
    assert found(user(world.other), "谈心谈话", board_id=world.other_board) == both
    assert found(user(world.other), "谈心谈话", board_id=world.board) == set()
    rows = db.session.execute(select(SearchDoc.access, SearchDoc.board_id))
    assert {tuple(row) for row in rows} == {(f"board:{world.other_board}", world.other_board)}


def test_the_faq_is_public_and_found_by_a_shorter_term_or_traditional_characters(world):
    with atomic():
        entry = faq.add_template(
            SYSTEM, "外出务工怎样办理转接？", "到流入地党组织办理组织关系转接，需要介绍信。", "transfer", True
        )
        hidden = faq.add_template(SYSTEM, "草稿：组织关系转接说明", "内部草稿，组织关系转接的口径待定。", None, False)
    for actor in (AnonymousUserMixin(), user(world.other)):
        assert found(actor, "组织关系") == {("faq", entry.id)}
        assert found(actor, "組織關係") == {("faq", entry.id)}  # traditional characters fold to simplified
    assert found(user(world.other), "组织关系", category="transfer") == {("faq", entry.id)}
    assert found(user(world.other), "组织关系", category="dues") == set()
    doc = db.session.scalar(select(SearchDoc).where(SearchDoc.kind == "faq"))
    assert (doc.access, doc.url) == ("public", f"/help/faq#faq-{entry.id}")
    with atomic():
        faq.set_published(SYSTEM, hidden.id, True)
        faq.set_published(SYSTEM, entry.id, False)
    assert found(AnonymousUserMixin(), "组织关系") == {("faq", hidden.id)}


def test_a_help_request_is_found_by_its_requester_only_and_not_while_held(world):
    with atomic():
        rules.add_rule(SYSTEM, "上访", "review", "help")
    text = "想把组织关系从老家转到深圳，需要准备哪些材料？"
    with atomic():
        mine = requests.file_request(user(world.author), "transfer", "440306", text)
    with atomic():
        held = requests.file_request(user(world.author), "other", "440306", "组织关系的问题能不能上访解决？")
    assert held.held
    assert found(user(world.author), "组织关系") == {("help", mine.id)}
    assert found(user(world.other), "组织关系") == set()
    assert search(user(world.other), "组织关系").counts.get("help", 0) == 0
    assert found(AnonymousUserMixin(), "组织关系") == set()
    with atomic():  # released by a bulk UPDATE: the explicit touch brings it in
        help_review.release(SYSTEM, get(type(held), held.id))
    assert found(user(world.author), "组织关系") == {("help", mine.id), ("help", held.id)}
