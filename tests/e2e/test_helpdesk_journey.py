"""流动党员之家 in Chromium: file, route, answer from a template, notify, rate, count.

A flowing member picks 广东省 › 深圳市 › 宝安区 in the cascade and describes a transfer in
words; the tag rule on 介绍信 suggests 组织关系转接 while they type, and the FAQ entry on
介绍信 is offered before they file. The request is routed by the 广东 route to the
Shenzhen branch, whose secretary inserts the FAQ answer, edits it and sends it. The member
is notified, confirms it solved and rates it 满意; the secretary's statistics page counts
one 组织关系转接 request, answered, 100% satisfied.
"""

from __future__ import annotations

import re

import pytest

from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from tests.e2e.journeys import log_in
from tests.e2e.test_accessibility import axe_source, check  # noqa: F401, F811 — axe_source is a fixture

pytestmark = [pytest.mark.e2e]

DESCRIPTION = "我在深圳宝安打工两年了，老家支部给我开了介绍信，想把组织关系转到这边，请问应该怎么办？"
FAQ_TITLE = "组织关系介绍信的有效期是多久？"
FAQ_BODY = "组织关系介绍信的有效期一般不超过三个月，请在有效期内到接收党组织报到。"


@pytest.fixture
def desk(app, create_branch, create_user) -> dict[str, int]:
    from dangxiao.extensions import db
    from forum.helpdesk import faq
    from forum.helpdesk.models import HelpRoute
    from forum.moderation import rules

    county = create_branch("示范县委", kind="committee")
    home = create_branch("青山乡流动党员党支部", parent=county)
    shenzhen = create_branch("驻深圳流动党员党支部", parent=county)
    member = create_user("liuliu", branch=home, display_name="刘六", is_flowing=True, flowing_region="深圳")
    create_user("chenshu", roles=["member", ("branch_secretary", shenzhen)], branch=shenzhen, display_name="陈书记")
    with app.app_context(), atomic():
        db.session.add(HelpRoute(region_prefix="44", target_branch_id=shenzhen))
        rules.add_rule(SYSTEM, "介绍信", "tag", "help", category="组织关系转接")
        template = faq.add_template(SYSTEM, FAQ_TITLE, FAQ_BODY, "transfer", True)
        return {"member": member, "template": template.id}


def test_member_files_handler_answers_from_a_template_member_rates_and_it_is_counted(browser, live_server, desk):
    member = browser.new_context(locale="zh-CN").new_page()
    member.set_default_timeout(15000)
    log_in(member, live_server, "liuliu")
    member.goto(live_server + "/help/new")

    member.select_option("#hd-region-province", "44")
    member.wait_for_selector("#hd-region-city option[value='4403']", state="attached")
    member.select_option("#hd-region-city", "4403")
    member.wait_for_selector("#hd-region-county option[value='440306']", state="attached")
    member.select_option("#hd-region-county", "440306")

    member.get_by_label("问题描述").fill(DESCRIPTION)
    suggestion = member.locator("#hd-category-suggest")
    suggestion.wait_for(state="visible")
    assert "组织关系转接" in suggestion.inner_text()
    assert member.locator("#hd-category").input_value() == "transfer"  # the default followed the suggestion
    faq_box = member.locator("#hd-faq-suggest")
    faq_box.wait_for(state="visible")
    assert FAQ_TITLE in faq_box.inner_text()

    member.get_by_role("button", name="提交求助").click()
    member.wait_for_url(re.compile(r"/help/r/\d+$"))
    request_url = member.url
    assert "待受理" in member.get_by_test_id("status").inner_text()
    assert "驻深圳流动党员党支部" in member.get_by_test_id("handling-branch").inner_text()

    handler = browser.new_context(locale="zh-CN").new_page()
    handler.set_default_timeout(15000)
    log_in(handler, live_server, "chenshu")
    handler.goto(live_server + "/notifications/")
    assert "待受理" in handler.content()
    handler.goto(live_server + "/help/")
    handler.get_by_role("link", name=re.compile("老家支部给我开了介绍信")).first.click()
    handler.wait_for_url(request_url)
    handler.select_option("#hd-template", str(desk["template"]))
    handler.locator("#hd-template-insert").click()
    answer_box = handler.get_by_label("答复内容")
    handler.wait_for_function("() => document.getElementById('hd-answer-body').value.length > 0")
    assert answer_box.input_value() == FAQ_BODY
    answer_box.fill(FAQ_BODY + "您可先联系我们核对介绍信抬头。")
    handler.get_by_test_id("do-answer").click()
    handler.wait_for_load_state()
    assert "已答复" in handler.get_by_test_id("status").inner_text()

    member.goto(live_server + "/notifications/")
    assert "答复" in member.content()
    member.goto(request_url)
    assert "核对介绍信抬头" in member.get_by_test_id("messages").inner_text()
    member.get_by_test_id("do-resolve").click()
    member.wait_for_load_state()
    assert "已解决" in member.get_by_test_id("status").inner_text()
    member.get_by_label("满意", exact=True).check()
    member.get_by_label("意见（可选）").fill("答复很及时")
    member.get_by_test_id("do-rate").click()
    member.wait_for_load_state()
    assert "满意：答复很及时" in member.get_by_test_id("rating").inner_text()

    handler.goto(live_server + "/help/stats/")
    row = handler.locator("[data-testid=category-table] tr[data-key=transfer]")
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "1" and cells[2] == "1"  # filed, answered
    assert cells[5].startswith("100")  # satisfaction


def test_helpdesk_pages_meet_wcag_aa(app, browser, live_server, desk, axe_source):  # noqa: F811
    """The form, a request page (as requester and as handler), the lists, FAQ and statistics."""
    from dangxiao.accounts.models import User
    from dangxiao.extensions import db
    from forum.helpdesk import requests

    with app.app_context(), atomic():
        request_id = requests.file_request(db.session.get(User, desk["member"]), "transfer", "440306", DESCRIPTION).id
    member = browser.new_context(locale="zh-CN").new_page()
    log_in(member, live_server, "liuliu")
    assert check(member, live_server, ["/help/", "/help/new", f"/help/r/{request_id}", "/help/faq"], axe_source) == {}
    handler = browser.new_context(locale="zh-CN").new_page()
    log_in(handler, live_server, "chenshu")
    pages = ["/help/?tab=todo", f"/help/r/{request_id}", "/help/templates/", "/help/stats/", "/help/stats/hot"]
    assert check(handler, live_server, pages, axe_source) == {}
