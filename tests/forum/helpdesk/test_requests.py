"""Help requests at the service level: filing and its refusals, the status machine, reminders.

The `world` fixture is in conftest.py, the shared steps in support.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dangxiao.db_types import utcnow
from dangxiao.errors import Forbidden
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from forum.helpdesk import requests, steps, workflow
from forum.helpdesk.models import HelpCategory, HelpEvent, HelpRequest, HelpTemplate, RequestStatus
from forum.limits import RateLimited
from forum.moderation import rules
from tests.forum.helpdesk.support import TEXT, act, file, notes, refused, user


def test_filing_routes_starts_the_sla_and_tells_the_handlers(ctx, world):
    req = file()
    assert (req.handling_branch_id, req.home_branch_id) == (world.sz, world.home)
    assert req.status == RequestStatus.pending and not req.held and req.due_at is not None
    assert req.title == TEXT[:30] + "…" and req.category == HelpCategory.transfer
    assert [e.kind for e in requests.events_for(req)] == ["filed"]
    assert any(f"#{req.id}" in text for text in notes("sz_handler"))
    assert notes("bj_handler") == []


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "too_short"),
        ("😀🙏👍😀🙏👍😀🙏", "too_short"),
        ("\u200b\u200c\u200d\ufeff" * 20, "too_short"),
        ("党" * 17_000, "too_long"),  # 50 KB of UTF-8
        ("a" * 50_000, "too_long"),
    ],
)
def test_descriptions_that_say_nothing_or_too_much_are_refused(ctx, world, text, code):
    refused(code, requests.file_request, user("zhaoliu"), "transfer", "440306", text)
    assert db.session.scalar(select(func.count(HelpRequest.id))) == 0


def test_category_and_region_must_exist(ctx, world):
    zhaoliu = user("zhaoliu")
    refused("category_invalid", requests.file_request, zhaoliu, "bogus", "440306", TEXT)
    refused("region_invalid", requests.file_request, zhaoliu, "transfer", "999999", TEXT)
    refused("region_invalid", requests.file_request, zhaoliu, "transfer", "44'; drop", TEXT)
    refused("region_incomplete", requests.file_request, zhaoliu, "transfer", "4403", TEXT)


def test_the_same_request_twice_is_refused_naming_the_first(ctx, world):
    first = file()
    again = TEXT.replace("，", " , ") + "\u200b"  # other spacing and punctuation: the same request
    error = refused("duplicate", requests.file_request, user("zhaoliu"), "transfer", "440306", again)
    assert f"#{first.id}" in error.message
    file("other")  # another member may ask the same


def test_requests_per_day_are_limited(ctx, world, app):
    app.config["HELPDESK_REQUESTS_PER_DAY"] = 2
    file(text="第一个问题：党费怎么交？")
    file(text="第二个问题：证明信怎么开？")
    with pytest.raises(RateLimited) as info, atomic():
        requests.file_request(user("zhaoliu"), "dues", "440306", "第三个问题：组织生活去哪里过？")
    assert info.value.status == 429


def test_blocked_words_are_found_through_evasion_tricks(ctx, world):
    with atomic():
        rules.add_rule(SYSTEM, "代办证件", "block", "help")
        rules.add_rule(SYSTEM, "fakecert", "block", "help")
    for trick in ("可以代 办 证 件吗", "可以代辦證件吗", "可以代*办-证.件吗", "我想买 ｆａｋｅＣＥＲＴ 一份"):
        error = refused("blocked", requests.file_request, user("zhaoliu"), "other", "440306", trick + "，多少钱")
        assert "代办证件" in error.message or "fakecert" in error.message
    assert db.session.scalar(select(func.count(HelpRequest.id))) == 0


def test_tag_rules_set_the_category_only_when_left_as_other(ctx, world):
    with atomic():
        rules.add_rule(SYSTEM, "转接", "tag", "help", category="组织关系转接")
    left = file(text="组织关系转接需要什么手续？我在宝安。", category="other")
    assert (left.category, left.suggested_category) == (HelpCategory.transfer, HelpCategory.transfer)
    picked = file(text="党费和组织关系转接的问题，我在宝安。", category="dues")
    assert (picked.category, picked.suggested_category) == (HelpCategory.dues, HelpCategory.transfer)
    hint = requests.suggest("在深圳宝安，组织关系转接怎么办")
    assert hint["category"] == "transfer" and hint["category_label"] == "组织关系转接"
    assert {r["code"] for r in hint["regions"]} >= {"4403", "440306"}
    # the picker wins over region words in the text
    assert file(text="北京的组织关系转接怎么办理", region="440306").handling_branch_id == world.sz


def test_status_machine_events_and_notifications(ctx, world):
    req = file()
    with atomic():
        template = HelpTemplate(title="转接材料", body="请准备介绍信。")
        db.session.add(template)
    act(workflow.accept, "sz_handler", req.id)
    refused("request_changed", workflow.accept, user("admin"), req.id)  # the second accept loses
    act(workflow.answer, "sz_handler", req.id, "请准备介绍信和党员证明。", template_id=template.id)
    first = db.session.get(HelpRequest, req.id).first_answer_at
    assert req.status == RequestStatus.answered and first is not None
    assert db.session.get(HelpTemplate, template.id).uses == 1
    assert any("新的答复" in t for t in notes("zhaoliu"))
    act(workflow.follow_up, "zhaoliu", req.id, "介绍信在哪里开？")
    assert db.session.get(HelpRequest, req.id).status == RequestStatus.in_progress
    act(workflow.answer, "sz_handler", req.id, "在老家支部开具介绍信。")
    assert db.session.get(HelpRequest, req.id).first_answer_at == first
    act(workflow.resolve, "zhaoliu", req.id)
    refused("request_ended", workflow.follow_up, user("zhaoliu"), req.id, "还有一个问题想问")
    error = refused("request_ended", workflow.answer, user("sz_handler"), req.id, "补充一点说明内容")
    assert error.message == steps.ENDED_MESSAGE
    kinds = [(e.kind, e.from_status, e.to_status) for e in requests.events_for(req)]
    assert kinds == [
        ("filed", None, "pending"),
        ("accepted", "pending", "in_progress"),
        ("answered", "in_progress", "answered"),
        ("follow_up", "answered", "in_progress"),
        ("answered", "in_progress", "answered"),
        ("resolved", "answered", "resolved"),
    ]


def test_close_and_reopen_within_and_after_the_window(ctx, world, app):
    req = file()
    act(workflow.close, "zhaoliu", req.id)  # withdrawing needs no note
    act(workflow.reopen, "zhaoliu", req.id, "问题还没解决")
    assert (req.status, req.reopen_count, req.ended_at) == (RequestStatus.pending, 1, None)
    assert any("重新打开" in t for t in notes("sz_handler"))
    refused("note_empty", workflow.close, user("sz_handler"), req.id, "")
    act(workflow.close, "sz_handler", req.id, "已电话联系解决")
    assert any("已电话联系解决" in t for t in notes("zhaoliu"))
    with atomic():
        db.session.get(HelpRequest, req.id).ended_at = utcnow() - timedelta(days=16)
    refused("reopen_expired", workflow.reopen, user("zhaoliu"), req.id)
    assert "reopen" not in workflow.allowed_actions(user("zhaoliu"), db.session.get(HelpRequest, req.id))


def test_rating_after_an_answer_by_the_requester_only(ctx, world):
    req = file()
    refused("not_answered", workflow.rate, user("zhaoliu"), req.id, "satisfied")
    act(workflow.answer, "sz_handler", req.id, "请准备介绍信和党员证明。")
    act(workflow.rate, "zhaoliu", req.id, "satisfied")
    act(workflow.rate, "zhaoliu", req.id, "unsatisfied", "还是不清楚去哪里开")
    req = db.session.get(HelpRequest, req.id)
    assert (req.rating.value, req.rating_comment) == ("unsatisfied", "还是不清楚去哪里开")
    refused("rating_invalid", workflow.rate, user("zhaoliu"), req.id, "great")
    with pytest.raises(Forbidden), atomic():
        workflow.rate(user("sz_handler"), req.id, "satisfied")


def test_hand_over_moves_the_request_and_its_visibility(ctx, world):
    req = file()
    act(workflow.accept, "sz_handler", req.id)
    refused("note_empty", workflow.hand_over, user("sz_handler"), req.id, world.bj, " ")
    refused("branch_invalid", workflow.hand_over, user("sz_handler"), req.id, 999_999, "转交")
    act(workflow.hand_over, "sz_handler", req.id, world.bj, "该党员已到北京工作")
    req = db.session.get(HelpRequest, req.id)
    assert (req.handling_branch_id, req.status) == (world.bj, RequestStatus.pending)
    event = requests.events_for(req)[-1]
    assert (event.kind, event.from_branch_id, event.to_branch_id, event.note) == (
        "handover",
        world.sz,
        world.bj,
        "该党员已到北京工作",
    )
    assert any("已转交给本组织" in t for t in notes("bj_handler"))
    refused("not_found", workflow.answer, user("sz_handler"), req.id, "我再补充一下说明")
    act(workflow.answer, "bj_handler", req.id, "请到北京市委组织部办理。")


def test_messages_per_minute_are_limited(ctx, world, app):
    app.config["HELPDESK_MESSAGES_PER_MINUTE"] = 2
    req = file()
    act(workflow.follow_up, "zhaoliu", req.id, "补充第一点说明")
    act(workflow.follow_up, "zhaoliu", req.id, "补充第二点说明")
    with pytest.raises(RateLimited), atomic():
        workflow.follow_up(user("zhaoliu"), req.id, "补充第三点说明")


def test_overdue_requests_are_reminded_once(ctx, world, runner):
    late = file()
    answered = file(text="党费可以网上缴纳吗？我在深圳。", category="dues")
    act(workflow.answer, "sz_handler", answered.id, "可以通过网上缴纳。")
    with atomic():
        for req in (late, answered):
            db.session.get(HelpRequest, req.id).due_at = utcnow() - timedelta(hours=1)
    later = utcnow()
    with atomic():
        assert workflow.remind_overdue(later) == 1
    with atomic():
        assert workflow.remind_overdue(later) == 0
    result = runner.invoke(args=["helpdesk", "remind"])
    assert result.exit_code == 0 and "已提醒 0 条" in result.output
    assert sum("超过答复期限" in t for t in notes("sz_handler")) == 1
    assert db.session.scalar(select(func.count(HelpEvent.id)).where(HelpEvent.kind == "reminded")) == 1
