"""Statistics on crafted requests (median, overdue share, satisfaction), the exports read back, the pages' access."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from dangxiao.db_types import utcnow
from dangxiao.exports import safe_cell
from dangxiao.extensions import db
from dangxiao.templating import local_today
from dangxiao.transactions import atomic
from forum.helpdesk import stats
from forum.helpdesk.models import HelpCategory, HelpRequest, Rating, RequestStatus
from tests.dangxiao.test_page_weight import BUDGET, _weight

H = timedelta(hours=1)
D = timedelta(days=1)


def add(uid: int, category: str, region: str, status: str, *, ago: timedelta, answer=None, due=None, **fields) -> None:
    """A request filed `ago` before now, first answered `answer` after filing, due `due` after filing."""
    created = utcnow() - ago
    text = fields.pop("description", f"{category}{region}{status}{ago}{answer}{fields}")
    with atomic():
        db.session.add(
            HelpRequest(
                requester_id=uid,
                category=HelpCategory(category),
                region_code=region,
                title=text[:20],
                description=text,
                content_hash=hashlib.sha256(text.encode()).hexdigest(),
                status=RequestStatus(status),
                created_at=created,
                first_answer_at=None if answer is None else created + answer,
                due_at=None if due is None else created + due,
                **fields,
            )
        )


@pytest.fixture
def crafted(ctx, create_user) -> int:
    uid = create_user("liudong")
    add(uid, "transfer", "440306", "resolved", ago=10 * D, answer=2 * H, due=3 * D, rating=Rating.satisfied)
    add(uid, "transfer", "440306", "closed", ago=10 * D, answer=10 * H, due=5 * H, rating=Rating.unsatisfied)
    add(uid, "transfer", "441900003", "pending", ago=10 * D, due=9 * D)  # unanswered, past due: overdue
    add(uid, "transfer", "440306", "answered", ago=10 * D, answer=6 * H, due=3 * D)
    add(uid, "dues", "330106", "closed", ago=5 * D, due=4 * D)  # withdrawn before an answer: not overdue
    add(uid, "transfer", "440306", "pending", ago=1 * D, due=3 * D, held=True)  # under review: left out
    add(uid, "transfer", "440306", "resolved", ago=400 * D, answer=H, due=3 * D)  # before the default range
    return uid


def by_key(rows):
    return {r.key: r for r in rows}


def test_summary_by_category(crafted):
    rows = by_key(stats.summary("category", *stats.default_range()))
    transfer, dues, total = rows["transfer"], rows["dues"], rows[""]
    assert (transfer.total, transfer.open, transfer.answered) == (4, 2, 3)
    assert transfer.median_hours == 6.0  # of 2, 10 and 6 hours
    assert (transfer.overdue, transfer.overdue_share) == (2, 0.5)  # answered late + unanswered past due
    assert (transfer.satisfied, transfer.rated, transfer.satisfaction) == (1, 2, 0.5)
    assert (dues.total, dues.open, dues.overdue, dues.median_hours, dues.satisfaction) == (1, 0, 0, None, None)
    assert rows["certificate"].total == 0  # every category is listed
    assert total.is_total and total.label == "合计"
    assert (total.total, total.answered, total.overdue, total.median_hours) == (5, 3, 2, 6.0)
    assert total.overdue_share == pytest.approx(0.4)
    everything = by_key(stats.summary("category", None, None))
    assert everything["transfer"].total == 5  # the old one counts without a range, the held one never


def test_summary_by_region_at_two_levels(crafted):
    provinces = stats.summary("region", *stats.default_range())
    assert [(r.key, r.label, r.total) for r in provinces] == [("44", "广东省", 4), ("33", "浙江省", 1), ("", "合计", 5)]
    cities = by_key(stats.summary("region", *stats.default_range(), level=2))
    assert {k: (r.label, r.total) for k, r in cities.items() if k} == {
        "4403": ("广东省 深圳市", 3),
        "4419": ("广东省 东莞市", 1),
        "3301": ("浙江省 杭州市", 1),
    }


def test_monthly(crafted):
    months = stats.monthly(12)
    assert len(months) == 12 and months[-1].month == local_today().strftime("%Y-%m")
    assert sum(m.filed for m in months) == 5
    assert sum(m.within_sla for m in months) == 2
    assert sum(m.overdue for m in months) == 2


def test_exports_read_back(crafted, client, auth, create_user):
    create_user("boss", roles=("admin",))
    auth.login("boss")
    response = client.get("/help/stats/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    transfer = next(r for r in rows if r and r[0] == "组织关系转接")
    assert transfer == ["组织关系转接", "4", "2", "3", "6.0", "2", "50.0%", "2", "50.0%"]
    assert ["广东省", "4", "2", "3", "6.0", "2", "50.0%", "2", "50.0%"] in rows

    response = client.get("/help/stats/export.xlsx?level=2")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    assert book.sheetnames == ["按类别", "按地区（市）", "月度趋势"]
    cities = {row[0]: row[1] for row in book["按地区（市）"].iter_rows(min_row=2, values_only=True)}
    assert cities == {"广东省 深圳市": 3, "广东省 东莞市": 1, "浙江省 杭州市": 1, "合计": 5}
    assert sum(row[1] for row in book["月度趋势"].iter_rows(min_row=2, values_only=True)) == 5
    assert client.get("/help/stats/export.pdf").status_code == 404


def test_formula_cells_are_neutralised():
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_cell("广东省") == "广东省" and safe_cell(3) == 3


def test_pages_for_leaders_only(crafted, client, auth, create_user, create_branch):
    branch = create_branch("第一支部")
    create_user("member1", branch=branch)
    create_user("secretary", roles=[("branch_secretary", branch)], branch=branch)
    for _ in range(2):
        add(crafted, "transfer", "440306", "pending", ago=H, due=3 * D, description="想办理组织关系转接，需要介绍信")

    assert client.get("/help/stats/").status_code == 302  # anonymous: to the login page
    auth.login("member1")
    for url in ("/help/stats/", "/help/stats/export.csv", "/help/stats/hot"):
        assert client.get(url).status_code == 403, url
    auth.logout()

    auth.login("secretary")
    page = client.get("/help/stats/?from=2000-01-01&level=2").get_data(as_text=True)
    assert 'data-testid="category-table"' in page and "广东省 东莞市" in page and "uPlot.iife.min.js" in page
    assert 'data-testid="months-table"' in page
    hot_page = client.get("/help/stats/hot?days=7")
    assert hot_page.status_code == 200
    html = hot_page.get_data(as_text=True)
    assert 'data-term="组织关系转接"' in html and 'data-term="介绍信"' in html and "★</span> 新" in html
    assert "最近 7 天" in html
    for url in ("/help/stats/?from=2000-01-01&level=2", "/help/stats/hot?days=7"):  # phone budget, scripts included
        total, assets = _weight(client, url)
        assert total <= BUDGET and any("helpdesk-charts.js" in a for a in assets), (url, total)
