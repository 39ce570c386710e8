"""The routing table admin: admins only; routes are listed with readable labels; duplicates,
unknown regions and unknown organisations are refused in Chinese and store nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from forum.helpdesk import routes, routing
from forum.helpdesk.models import HelpRoute

URL = "/admin/help/routes/"


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(HelpRoute.id)))


def test_only_admins_reach_the_route_pages(app, client, auth, create_user, create_branch):
    branch = create_branch("驻深圳流动党员党支部")
    with app.app_context(), atomic():
        rid = routes.add_route(SYSTEM, None, "", branch, False).id
    assert client.get(URL).status_code in (302, 401)
    create_user("chen", roles=["member", ("branch_secretary", branch)], branch=branch)
    auth.login("chen")
    assert client.get(URL).status_code == 403
    assert client.get(f"/admin/help/routes/{rid}/edit").status_code == 403
    assert client.post(f"/admin/help/routes/{rid}/delete").status_code == 403
    assert client.post(URL, data={"category": "", "target": str(branch)}).status_code == 403
    assert _count(app) == 1


def test_admin_adds_edits_and_deletes_routes(app, client, auth, create_user, create_branch):
    root = create_branch("示范县委组织部", kind="committee")
    shenzhen = create_branch("驻深圳流动党员党支部", parent=root)
    create_user("boss", roles=["admin"])
    auth.login("boss")
    assert "全部类别" in client.get(URL).get_data(as_text=True)

    # Province and city picked, county left empty: the route covers 深圳市.
    form = {"category": "", "province": "44", "city": "4403", "county": "", "target": str(shenzhen), "note": "深圳"}
    assert client.post(URL, data=form).status_code == 302
    assert client.post(URL, data={"category": "transfer", "target": "home"}).status_code == 302
    html = client.get(URL).get_data(as_text=True)
    assert "广东省 深圳市" in html and "示范县委组织部 / 驻深圳流动党员党支部" in html
    assert "党员所在支部" in html and "<td>全国</td>" in html and "组织关系转接" in html

    refusals = [
        ({**form, "note": "again"}, "已有路由规则"),
        ({**form, "city": "4499"}, "所选地区不存在"),
        ({**form, "city": "3301"}, "所选地区不一致"),
        ({**form, "city": "4401", "target": "999999"}, "处理组织不存在"),
        ({**form, "city": "4401", "target": ""}, "请选择处理组织"),
    ]
    for data, message in refusals:
        page = client.post(URL, data=data)
        assert page.status_code == 400 and message in page.get_data(as_text=True), message
    assert _count(app) == 2

    with app.app_context():
        rid = db.session.scalar(select(HelpRoute.id).where(HelpRoute.region_prefix == "4403"))
        assert routing.resolve("dues", "440306", None)[0] == shenzhen
    edit = client.get(f"/admin/help/routes/{rid}/edit").get_data(as_text=True)
    assert '<option value="4403" selected>' in edit
    changed = {**form, "county": "440306", "target": str(root)}
    assert client.post(f"/admin/help/routes/{rid}/edit", data=changed).status_code == 302
    with app.app_context():
        row = db.session.get(HelpRoute, rid)
        assert (row.region_prefix, row.target_branch_id) == ("440306", root)
    assert client.post(f"/admin/help/routes/{rid}/delete").status_code == 302
    assert _count(app) == 1


def test_route_service_refuses_bad_input(ctx, create_branch):
    branch = create_branch("驻深圳流动党员党支部")
    with atomic():
        routes.add_route(SYSTEM, "transfer", "44", branch, False)
        for args, code in [
            (("组织关系转接", "44", branch, False), "route_duplicate"),
            (("travel", "44", branch, False), "category_invalid"),
            (("transfer", "44x", branch, False), "region_invalid"),
            (("transfer", "4403", None, False), "target_required"),
        ]:
            with pytest.raises(DomainError) as error:
                routes.add_route(SYSTEM, *args)
            assert error.value.code == code
        home = routes.add_route(SYSTEM, "transfer", "", branch, True)
        assert (home.to_home_branch, home.target_branch_id) == (True, None)
