"""Answer templates and the public FAQ: handlers manage them, members may not; the FAQ page is
public and shows only published entries; suggest() finds the entry a typed question is about."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from forum.helpdesk import faq
from forum.helpdesk.models import HelpTemplate

LETTER = (
    "组织关系介绍信的有效期是多长时间？",
    "介绍信的有效期一般不超过3个月，过期后应联系开具介绍信的党组织重新开具。",
)
DUES = ("组织关系转接期间，党费怎么交？", "转接期间在原党组织交纳党费，直到转接完成，也可以按安排线上交纳。")
CARD = ("什么是流动党员活动证？", "流动党员活动证由流出地党组织发放，外出党员持证到流入地党组织报到参加组织生活。")


def _add(title: str, body: str, category: str | None = None, published: bool = True) -> int:
    with atomic():
        return faq.add_template(SYSTEM, title, body, category, published).id


def _handler(create_user, create_branch) -> None:
    branch = create_branch("驻深圳流动党员党支部")
    create_user("chen", roles=["member", ("branch_secretary", branch)], branch=branch)


def test_handler_manages_templates_through_the_pages(app, client, auth, create_user, create_branch):
    _handler(create_user, create_branch)
    auth.login("chen")
    assert "答复模板" in client.get("/help/templates/").get_data(as_text=True)
    form = {"title": LETTER[0], "body": LETTER[1], "category": "transfer", "published": "y", "position": ""}
    assert client.post("/help/templates/new", data=form).status_code == 302
    with app.app_context():
        row = db.session.scalar(select(HelpTemplate))
        tid, position = row.id, row.position
        assert (row.category.value, row.published, row.title) == ("transfer", True, LETTER[0])
    assert position == 1

    # The same title again is refused next to the field; nothing stored.
    again = client.post("/help/templates/new", data=form)
    assert again.status_code == 400 and "已有标题为" in again.get_data(as_text=True)

    edit = {**form, "body": LETTER[1] + "\n请及时报到。", "position": "5"}
    del edit["published"]  # an unticked checkbox is not sent
    assert client.post(f"/help/templates/{tid}/edit", data=edit).status_code == 302
    data = client.get(f"/help/templates/{tid}.json").get_json()
    assert data == {"id": tid, "title": LETTER[0], "body": LETTER[1] + "\n请及时报到。"}
    with app.app_context():
        row = db.session.get(HelpTemplate, tid)
        assert (row.published, row.position) == (False, 5)

    assert client.post(f"/help/templates/{tid}/publish", data={"published": "1"}).status_code == 302
    with app.app_context():
        assert db.session.get(HelpTemplate, tid).published is True
    assert client.post(f"/help/templates/{tid}/delete").status_code == 302
    with app.app_context():
        assert db.session.get(HelpTemplate, tid) is None


def test_members_and_visitors_cannot_manage_templates(app, client, auth, create_user):
    tid = None
    with app.app_context():
        tid = _add(*LETTER)
    assert client.get("/help/templates/").status_code in (302, 401)
    assert client.get(f"/help/templates/{tid}.json").status_code in (302, 401)
    create_user("plain", roles=["member"])
    auth.login("plain")
    assert client.get("/help/templates/").status_code == 403
    assert client.get(f"/help/templates/{tid}.json").status_code == 403
    assert (
        client.post(
            "/help/templates/new", data={"title": "新的问题标题", "body": "答复内容足够长的一段文字。"}
        ).status_code
        == 403
    )
    assert client.post(f"/help/templates/{tid}/delete").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(HelpTemplate.title)) == LETTER[0]


def test_faq_page_is_public_and_lists_only_published_entries(app, client):
    with app.app_context():
        shown = _add(*LETTER, category="transfer")
        _add("内部答复：尚未核实的情况", "内部使用的答复模板，不公开显示在常见问题页面。", published=False)
    page = client.get("/help/faq")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'id="faq-{shown}"' in html and f'href="#faq-{shown}"' in html and "组织关系转接" in html
    assert "内部答复" not in html


def test_template_fields_are_validated(ctx):
    with atomic():
        with pytest.raises(DomainError) as short:
            faq.add_template(SYSTEM, "介绍信", "太短", None, True)
        assert short.value.code == "title_short"
        with pytest.raises(DomainError) as category:
            faq.add_template(SYSTEM, "介绍信有效期多久？", "有效期一般不超过3个月。", "travel", True)
        assert category.value.code == "category_invalid"
        with pytest.raises(DomainError) as empty:
            faq.add_template(SYSTEM, "介绍信有效期多久？", "\u200b \n", None, True)
        assert empty.value.code == "body_empty"


def test_suggest_finds_the_matching_entry_and_follows_changes(ctx):
    letter, dues, card = _add(*LETTER), _add(*DUES), _add(*CARD)
    found = faq.suggest("我去年开的介绍信过期了，还能用吗？")
    assert found and found[0].id == letter
    assert [t.id for t in faq.suggest("在外地怎么交党费")][:1] == [dues]
    assert faq.suggest("今天天气很好") == [] and faq.suggest("😀😀") == [] and faq.suggest("") == []
    assert len(faq.suggest("介绍信 党费 活动证", limit=2)) == 2

    # The per-process index follows edits: unpublished entries drop out, new words match.
    with atomic():
        faq.update_template(SYSTEM, letter, published=False)
        faq.update_template(SYSTEM, card, title="流动党员活动证丢失了怎么补办？")
    assert letter not in [t.id for t in faq.suggest("介绍信过期")]
    assert [t.id for t in faq.suggest("活动证丢失")][:1] == [card]
