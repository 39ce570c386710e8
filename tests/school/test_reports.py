"""The branch report: numbers on a small tree, roll-up, scope, exports read back, offline entry over HTTP."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from dangxiao.accounts.models import User
from dangxiao.errors import Forbidden
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.school import credits, reports
from dangxiao.school.credit_models import CreditEntry
from dangxiao.school.models import CourseAssignment, CourseCompletion
from dangxiao.transactions import atomic


@pytest.fixture
def tree(ctx, create_branch, create_user, make_course):
    """县委 › 甲支部 (张一 10, 李二 2, 书记王甲) and 乙支部 (赵三 5); a required course overdue."""
    year = credits.current_year()
    top = create_branch("城关镇党委", kind="committee")
    a = create_branch("甲支部", parent=top)
    b = create_branch("乙支部", parent=top)
    ids = {
        "a1": create_user("zhang1", branch=a, display_name="张一"),
        "a2": create_user("li2", branch=a, display_name="=李二"),
        "sec_a": create_user("wangjia", roles=(("branch_secretary", a),), branch=a, display_name="王甲"),
        "b1": create_user("zhao3", branch=b, display_name="赵三"),
        "sec_top": create_user("chenzong", roles=(("branch_secretary", top),), branch=top, display_name="陈总"),
        "plain": create_user("plainm", branch=b, display_name="普通党员"),
    }
    course = make_course(durations=(600.0,), title="必修课")
    with atomic():
        for key, amount in (("a1", "10"), ("a2", "2"), ("b1", "5")):
            credits.record_offline(SYSTEM, db.session.get(User, ids[key]), amount, "三会一课", "支部学习", year)
        db.session.add(CourseAssignment(course_id=course.id, branch_id=top, year=year, deadline=date(year, 1, 1)))
        db.session.add(CourseCompletion(user_id=ids["a1"], course_id=course.id))
    return {"top": top, "a": a, "b": b, "year": year, "today": date(year, 7, 2), **ids}


def test_report_numbers_roll_up_and_scope(tree):
    year, today = tree["year"], tree["today"]
    sec_a = db.session.get(User, tree["sec_a"])
    report = reports.build(sec_a, year=year, today=today)  # default: the secretary's scope root
    assert report.root.id == tree["a"] and report.fraction == pytest.approx(
        today.timetuple().tm_yday / (366 if year % 4 == 0 else 365)
    )
    by_name = {m.name: m for m in report.members}
    assert [m.name for m in report.members] == sorted(by_name)  # by name, never by credits
    assert set(by_name) == {"张一", "=李二", "王甲"}
    assert by_name["张一"].credits == Decimal("10.00") and by_name["王甲"].required == Decimal("56")
    assert by_name["张一"].expected == (Decimal("32") * Decimal(str(report.fraction))).quantize(Decimal("0.01"))
    assert (by_name["张一"].courses_total, by_name["张一"].courses_done, by_name["张一"].overdue) == (1, 1, [])
    assert by_name["=李二"].overdue == ["必修课"] and by_name["=李二"].behind
    assert by_name["张一"].behind  # 10 < 32 × ~0.5 = ~16 on 2 July
    assert report.total == Decimal("12.00") and sum(report.months) == Decimal("12.00")

    with pytest.raises(Forbidden):
        reports.build(sec_a, tree["b"], year, today)

    top = reports.build(db.session.get(User, tree["sec_top"]), year=year, today=today)
    assert top.root.id == tree["top"] and len(top.members) == 6
    rows = {b.name: b for b in top.branches}
    assert rows["城关镇党委（本级）"].members == 1
    assert (rows["甲支部"].members, rows["甲支部"].credits, rows["甲支部"].average) == (
        3,
        Decimal("12.00"),
        Decimal("4.00"),
    )
    assert (rows["乙支部"].members, rows["乙支部"].credits, rows["乙支部"].courses_done) == (2, Decimal("5.00"), 0)
    assert top.total == Decimal("17.00") and top.courses_total == 6 and top.courses_done == 1
    data = top.chart_data()
    names = [b["name"] for b in data["branches"]]
    assert names[0] == "城关镇党委（本级）" and sorted(names[1:]) == sorted(["甲支部", "乙支部"])
    assert len(data["months"]) == 12
    assert reports.build(SYSTEM, tree["b"], year, today).root.id == tree["b"]  # admins pick any branch
    assert {value for value, _ in reports.branch_options(sec_a)} == {tree["a"]}


def test_report_pages_exports_and_offline_entry(tree, client, auth):
    auth.login("plainm")
    assert client.get("/school/reports/").status_code == 403
    auth.logout()
    auth.login("wangjia")
    assert client.get(f"/school/reports/?branch_id={tree['b']}").status_code == 403
    page = client.get("/school/reports/?page=99&sort=branch&year=abc")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "张一" in html and "赵三" not in html and 'id="report-data"' in html

    sheet_rows = list(csv.reader(io.StringIO(client.get("/school/reports/export.csv").data.decode("utf-8-sig"))))
    assert sheet_rows[0][:4] == ["姓名", "用户名", "所在组织", "本年学时"]
    csv_credits = {r[0]: r[3] for r in sheet_rows[1:]}
    assert csv_credits == {"张一": "10.0", "'=李二": "2.0", "王甲": "0.0"}  # formula-looking names defused

    response = client.get(f"/school/reports/export.xlsx?branch_id={tree['a']}")
    book = load_workbook(io.BytesIO(response.data))
    members = {r[0]: r[3] for r in book["党员学时"].iter_rows(min_row=2, values_only=True)}
    assert members == {"张一": 10.0, "'=李二": 2.0, "王甲": 0.0}
    summary = list(book["组织汇总"].iter_rows(min_row=2, values_only=True))
    assert summary == [("甲支部（本级）", 3, 12.0, 4.0, 3, 1, 3)]

    a2, b1 = tree["a2"], tree["b1"]
    assert client.get(f"/school/reports/members/{b1}").status_code == 403
    ok = {"amount": "1.5", "activity": "集中培训", "reason": "七一专题党课", "year": str(tree["year"])}
    assert client.post(f"/school/reports/members/{b1}/offline", data=ok).status_code == 403
    assert client.post(f"/school/reports/members/{a2}/offline", data={**ok, "amount": "0"}).status_code == 400
    assert client.post(f"/school/reports/members/{a2}/offline", data={**ok, "year": "2999"}).status_code == 400
    assert client.post(f"/school/reports/members/{a2}/offline", data=ok).status_code == 302
    entry_id = db.session.scalar(select(func.max(CreditEntry.id)).where(CreditEntry.user_id == a2))
    assert client.post(f"/school/reports/entries/{entry_id}/reverse", data={"reason": "录错了"}).status_code == 302
    page = client.get(f"/school/reports/members/{a2}").get_data(as_text=True)
    assert "已更正" in page and "更正：集中培训" in page
    assert credits.total(a2, tree["year"]) == Decimal("2.00")


def test_rules_page_for_admins_only(tree, client, auth, create_user):
    create_user("admin1", roles=("admin",))
    auth.login("wangjia")
    assert client.get("/admin/school/credits/").status_code == 403
    auth.logout()
    auth.login("admin1")
    form = client.get("/admin/school/credits/").get_data(as_text=True)
    assert 'name="lesson_long_minutes"' in form and 'value="30"' in form
    good = {
        "lesson_long_minutes": "40",
        "lesson_long_credit": "1",
        "lesson_medium_minutes": "20",
        "lesson_medium_credit": "0.5",
        "lesson_short_credit": "0.25",
        "course_bonus": "2",
        "quiz_bonus": "0.5",
        "daily_cap": "",
        "requirement_member": "32",
        "requirement_secretary": "56",
    }
    assert client.post("/admin/school/credits/", data={**good, "quiz_bonus": "-1"}).status_code == 400
    assert client.post("/admin/school/credits/", data=good).status_code == 302
    assert "≥40 分钟" in client.get("/admin/school/credits/").get_data(as_text=True)
    assert client.get("/school/reports/").status_code == 200  # admins pass the secretary row
