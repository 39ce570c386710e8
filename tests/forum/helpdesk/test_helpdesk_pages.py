"""The help desk over HTTP: filing through the form, lists, a request's page and actions, the JSON helpers."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum.helpdesk.models import (
    HelpAttachment,
    HelpCategory,
    HelpMessage,
    HelpRequest,
    HelpRoute,
    HelpTemplate,
    Rating,
    RequestStatus,
)
from tests.conftest import AuthActions

SHENZHEN_BAOAN = "440306"
BEIJING_DONGCHENG = "110101"
DUES_TEXT = "我现在在深圳宝安打工，想问问党费应该怎样缴纳，原来的支部离得太远了。"


@dataclass
class Desk:
    home: int
    shenzhen: int
    beijing: int
    template_id: int


@pytest.fixture
def desk(app, create_branch, create_user) -> Desk:
    return make_desk(app, create_branch, create_user)


def make_desk(app, create_branch, create_user) -> Desk:
    """A requester's home branch, two regions' organisations with one handler each, an admin,
    routes for 深圳 and 北京, and one published answer template."""
    committee = create_branch("老家县委", kind="committee")
    home = create_branch("老家村党支部", parent=committee)
    shenzhen = create_branch("深圳市流动党员服务中心", kind="committee")
    beijing = create_branch("北京市流动党员服务中心", kind="committee")
    create_user("liudong", branch=home, display_name="刘东")
    create_user("neighbour", branch=home)
    create_user("szhandler", roles=("member", ("moderator", shenzhen)), branch=shenzhen)
    create_user("bjhandler", roles=("member", ("branch_secretary", beijing)), branch=beijing)
    create_user("boss", roles=("member", "admin"), branch=committee)
    with app.app_context(), atomic():
        db.session.add_all(
            [
                HelpRoute(category=None, region_prefix="4403", target_branch_id=shenzhen),
                HelpRoute(category=None, region_prefix="11", target_branch_id=beijing),
            ]
        )
        template = HelpTemplate(
            title="党费可以通过转账缴纳",
            body="您好：流动党员可以按月向原支部转账缴纳党费，备注姓名和月份即可。",
            category=HelpCategory.dues,
            published=True,
        )
        db.session.add(template)
        db.session.flush()
        template_id = template.id
    return Desk(home, shenzhen, beijing, template_id)


def login(app, username: str):
    """A separate logged-in client per person, so a test can switch between them freely."""
    client = app.test_client()
    assert AuthActions(client).login(username).status_code == 302
    return client


def png(name: str = "证明.png") -> tuple[io.BytesIO, str]:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 20, 20)).save(buffer, "PNG")
    buffer.seek(0)
    return buffer, name


def file_form(client, description: str = DUES_TEXT, region=("44", "4403", SHENZHEN_BAOAN), category="dues", files=()):
    data = {"category": category, "region": list(region), "description": description}
    if files:
        data["attachments"] = list(files)
    return client.post("/help/new", data=data, content_type="multipart/form-data")


def request_id_from(response) -> int:
    match = re.search(r"/help/r/(\d+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))


def rows(app, model, *where):
    with app.app_context():
        return list(db.session.scalars(select(model).where(*where)))


def test_filing_through_the_form_routes_and_shows_the_request(app, desk):
    member = login(app, "liudong")
    page = member.get("/help/new").get_data(as_text=True)
    assert 'name="csrf_token"' in page and 'name="region"' in page and "广东省" in page
    assert "老家县委 / 老家村党支部" in page  # the home branch, read-only from the profile
    assert 'accept="image/*,application/pdf"' in page and len(page.encode()) < 150_000

    response = file_form(member, files=[png()])
    assert response.status_code == 302
    request_id = request_id_from(response)
    [req] = rows(app, HelpRequest)
    assert (req.id, req.region_code, req.category, req.handling_branch_id) == (
        request_id,
        SHENZHEN_BAOAN,
        HelpCategory.dues,
        desk.shenzhen,
    )
    [attachment] = rows(app, HelpAttachment)
    shown = member.get(f"/help/r/{request_id}").get_data(as_text=True)
    assert "求助已提交" in shown and "党费应该怎样缴纳" in shown and "广东省 深圳市 宝安区" in shown
    assert f"/help/r/{request_id}/files/{attachment.id}" in shown and "<img" not in shown
    assert "深圳市流动党员服务中心" in shown and "待受理" in shown


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"description": "   "}, "description", None),
        ({"region": ("999999",)}, "region", "所选地区不存在"),
        ({"files": "exe"}, "attachments", "可执行程序"),
    ],
    ids=["empty-description", "unknown-region", "exe-as-jpg"],
)
def test_bad_input_re_renders_the_form_with_the_message_and_the_text(app, desk, change, field, message):
    member = login(app, "liudong")
    kwargs = dict(change)
    if kwargs.get("files") == "exe":
        kwargs["files"] = [(io.BytesIO(b"MZ\x90\x00" + b"\x00" * 200), "photo.jpg")]
    response = file_form(member, **kwargs)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'data-testid="error-{field}"' in page
    if message:
        assert message in page
    if field != "description":
        assert "党费应该怎样缴纳" in page  # what the member typed is kept
    assert rows(app, HelpRequest) == []


def test_region_picker_is_prefilled_after_an_error_and_asks_for_the_next_level(app, desk):
    member = login(app, "liudong")
    page = file_form(member, description="", region=("44", "4403", SHENZHEN_BAOAN)).get_data(as_text=True)
    assert re.search(r'<option value="4403"[^>]*selected', page)
    assert re.search(r'<option value="440306"[^>]*selected', page)
    # Without JavaScript: a province only is refused, and the next level is listed to pick from.
    page = file_form(member, region=("44", "", "")).get_data(as_text=True)
    assert "请继续选择广东省下的县（区）" in page
    assert '<option value="4403"' in page and "党费应该怎样缴纳" in page


def test_index_tabs_filters_and_overdue_rows(app, desk):
    member = login(app, "liudong")
    request_id = request_id_from(file_form(member))
    mine = member.get("/help/").get_data(as_text=True)
    assert f"#{request_id}" in mine and "待我处理" not in mine and "常见问题" in mine

    with app.app_context(), atomic():
        db.session.get(HelpRequest, request_id).due_at = utcnow() - timedelta(hours=1)
    handler = login(app, "szhandler")
    todo = handler.get("/help/?tab=todo").get_data(as_text=True)
    assert f"#{request_id}" in todo and "已逾期" in todo and "已逾期 1 条" in todo
    only_late = handler.get("/help/?tab=todo&overdue=1&category=dues").get_data(as_text=True)
    assert f"#{request_id}" in only_late
    other_category = handler.get("/help/?tab=todo&category=transfer").get_data(as_text=True)
    assert f"#{request_id}" not in other_category
    assert "全部" not in handler.get("/help/").get_data(as_text=True).split("hd-tabs")[1].split("</nav>")[0]

    admin = login(app, "boss")
    everything = admin.get("/help/?tab=all").get_data(as_text=True)
    assert f"#{request_id}" in everything


def test_handler_answers_from_a_template_and_the_requester_sees_it(app, desk):
    member = login(app, "liudong")
    request_id = request_id_from(file_form(member))
    handler = login(app, "szhandler")
    page = handler.get(f"/help/r/{request_id}").get_data(as_text=True)
    assert "插入常见回答" in page and "党费可以通过转账缴纳" in page and "helpdesk-answer.js" in page
    assert handler.post(f"/help/r/{request_id}/accept").status_code == 302

    # Without JavaScript: only the template is chosen, the answer box is left empty.
    response = handler.post(f"/help/r/{request_id}/answer", data={"body": "", "template_id": str(desk.template_id)})
    assert response.status_code == 302
    [message] = rows(app, HelpMessage)
    assert message.from_handler and message.body.startswith("您好：流动党员可以按月向原支部转账缴纳党费")
    assert rows(app, HelpRequest)[0].status == RequestStatus.answered

    shown = member.get(f"/help/r/{request_id}").get_data(as_text=True)
    assert "按月向原支部转账缴纳党费" in shown and "已答复" in shown
    assert "确认已解决" in shown and "您对答复满意吗？" in shown
    assert member.post(f"/help/r/{request_id}/resolve").status_code == 302
    assert (
        member.post(f"/help/r/{request_id}/rate", data={"rating": "satisfied", "comment": "很及时"}).status_code == 302
    )
    [req] = rows(app, HelpRequest)
    assert (req.status, req.rating, req.rating_comment) == (RequestStatus.resolved, Rating.satisfied, "很及时")
    history = member.get(f"/help/r/{request_id}").get_data(as_text=True)
    assert "办理记录" in history and "待受理 → 处理中" in history and "已解决" in history


def test_refusals_keep_the_typed_text_or_are_flashed(app, desk):
    member = login(app, "liudong")
    request_id = request_id_from(file_form(member))
    handler = login(app, "szhandler")
    response = handler.post(f"/help/r/{request_id}/answer", data={"body": "好"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'data-testid="error-answer"' in page and ">好</textarea>" in page

    assert member.post(f"/help/r/{request_id}/close", data={"note": "已自行解决"}).status_code == 302
    response = member.post(f"/help/r/{request_id}/follow_up", data={"body": "还有一个问题想补充一下"})
    assert "该求助已结束" in response.get_data(as_text=True)
    json_refusal = member.post(
        f"/help/r/{request_id}/follow_up",
        data={"body": "还有一个问题想补充一下"},
        headers={"Accept": "application/json"},
    )
    assert json_refusal.status_code == 400 and json_refusal.get_json()["error"]["code"] == "request_ended"


def test_suggest_returns_the_tag_rule_category_places_and_faq(app, desk):
    from dangxiao.policy import SYSTEM
    from forum.moderation import rules

    with app.app_context(), atomic():
        rules.add_rule(SYSTEM, "党费", "tag", "help", category="党费缴纳")
    member = login(app, "liudong")
    data = member.get("/help/suggest", query_string={"text": DUES_TEXT + "x" * 5000}).get_json()
    assert data["category"] == "dues" and data["category_label"] == "党费缴纳"
    assert any(r["code"].startswith("4403") for r in data["regions"])
    assert all(set(r) == {"code", "label"} for r in data["regions"])
    assert all(entry["url"].endswith(f"#faq-{entry['id']}") for entry in data["faq"])
    assert member.get("/help/suggest?text=").get_json()["category"] is None
    assert app.test_client().get("/help/suggest?text=党费").status_code == 302  # login first


def test_regions_json_for_the_picker(app, desk):
    client = app.test_client()
    provinces = client.get("/help/regions")
    assert provinces.status_code == 200 and "max-age=86400" in provinces.headers["Cache-Control"]
    assert {"code": "44", "name": "广东省", "leaf": False} in provinces.get_json()
    counties = client.get("/help/regions/4403").get_json()
    assert {"code": SHENZHEN_BAOAN, "name": "宝安区", "leaf": True} in counties
    missing = client.get("/help/regions/999999")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
