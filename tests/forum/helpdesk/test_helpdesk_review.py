"""The keyword engine's review hold on help requests and messages, decided in the shared queue.

A held request is the requester's alone (marked held) until a moderator of the requester's
branch approves it; then its handlers see it, are told, and its SLA starts. Rejected, it
is closed with the reason. A held answer changes nothing until approved.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dangxiao.errors import Forbidden, NotFound
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from forum.helpdesk import handlers, requests, workflow
from forum.helpdesk.models import HelpMessage, HelpRequest, MessageState, RequestStatus
from forum.moderation import queue, rules
from forum.moderation.models import ReviewItem
from tests.forum.helpdesk.support import act, file, notes, refused, user

HELD_TEXT = "我在深圳，想问问上访的事情应该找谁？"


@pytest.fixture
def review_word(ctx):
    with atomic():
        rules.add_rule(SYSTEM, "上访", "review", "help")


def item_for(kind: str, object_id: int) -> ReviewItem:
    return db.session.scalar(select(ReviewItem).where(ReviewItem.kind == kind, ReviewItem.object_id == object_id))


def test_a_held_request_is_invisible_to_handlers_until_approved(ctx, world, review_word):
    req = file(text=HELD_TEXT)
    assert req.held and req.due_at is None
    item = item_for("help", req.id)
    assert (item.state, item.reason, item.branch_id, item.board_id) == ("open", "rule", world.home, None)
    assert [m["text"] for m in item.matches] == ["上访"]
    assert notes("sz_handler") == []
    with pytest.raises(NotFound):
        handlers.get_visible(user("sz_handler"), req.id)
    assert db.session.scalars(handlers.visible_stmt(user("sz_handler"), scope="todo")).all() == []
    assert handlers.get_visible(user("zhaoliu"), req.id).held
    refused("request_held", workflow.follow_up, user("zhaoliu"), req.id, "补充一点说明")
    with pytest.raises(Forbidden), atomic():  # a moderator of another branch may not decide it
        queue.approve(user("bj_handler"), item.id)
    act(queue.approve, "mod", item.id)
    req = db.session.get(HelpRequest, req.id)
    assert not req.held and req.due_at is not None
    assert handlers.get_visible(user("sz_handler"), req.id).id == req.id
    assert any(f"#{req.id}" in t for t in notes("sz_handler"))
    assert [e.kind for e in requests.events_for(req)] == ["filed", "held", "released"]


def test_a_rejected_request_is_closed_with_the_reason(ctx, world, review_word):
    req = file(text=HELD_TEXT)
    act(queue.reject, "mod", item_for("help", req.id).id, "与党员求助无关")
    req = db.session.get(HelpRequest, req.id)
    assert (req.status, req.held) == (RequestStatus.closed, True)
    assert any("与党员求助无关" in t for t in notes("zhaoliu"))
    refused("request_rejected", workflow.reopen, user("zhaoliu"), req.id)
    with pytest.raises(NotFound):
        handlers.get_visible(user("sz_handler"), req.id)


def test_edit_and_approve_replaces_the_description(ctx, world, review_word):
    req = file(text=HELD_TEXT)
    act(queue.edit_and_approve, "mod", item_for("help", req.id).id, "我在深圳，想问问反映问题应该找谁？")
    req = db.session.get(HelpRequest, req.id)
    assert not req.held and "上访" not in req.description and req.title.startswith("我在深圳")


def test_a_held_answer_takes_effect_only_when_approved(ctx, world, review_word):
    req = file()
    message = act(workflow.answer, "sz_handler", req.id, "上访不能解决转接问题，请准备介绍信。")
    assert message.state == MessageState.held
    assert db.session.get(HelpRequest, req.id).status == RequestStatus.pending
    assert requests.messages_for(user("zhaoliu"), req) == []
    assert [m.id for m in requests.messages_for(user("sz_handler"), req)] == [message.id]
    act(queue.approve, "mod", item_for("help_msg", message.id).id)
    req = db.session.get(HelpRequest, req.id)
    assert req.status == RequestStatus.answered and req.first_answer_at is not None
    assert db.session.get(HelpMessage, message.id).state == MessageState.published
    assert any("新的答复" in t for t in notes("zhaoliu"))
