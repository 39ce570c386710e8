"""Help-desk statistics for leaders: per category or region, per month, and their exports.

Requests held by the keyword review are left out everywhere: no handler has seen them,
so counting them would charge the handlers for a wait that was the moderators'. One query
fetches the few columns needed for the range and Python does the rest — medians are not
portable SQL (SQLite has none), and even 100,000 requests are a few MB of tuples.

Definitions (the page's footnote repeats them):
- 未结束 (open): not resolved or closed; 已答复 (answered): has a first handler answer.
- 首次答复中位时长: median calendar hours from filing to the first answer, over answered
  requests (calendar, not working hours: it is the member's wait).
- 超时率 (overdue share): requests answered after due_at, or still unanswered, not ended and
  past due_at now, divided by all requests of the row.
- 满意度: 满意 ÷ rated requests, shown with the number rated (a rate over 2 ratings says little).
Dates are site-local days (dangxiao.templating.site_zone), both ends included.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from dangxiao.db_types import aware, utcnow
from dangxiao.exports import safe_cell
from dangxiao.extensions import db
from dangxiao.templating import local_today, site_zone
from forum.helpdesk import regions
from forum.helpdesk.models import HelpCategory, HelpRequest, Rating, RequestStatus

BY = ("category", "region")
ENDED = (RequestStatus.resolved, RequestStatus.closed)


@dataclass
class StatRow:
    key: str
    label: str
    total: int = 0
    open: int = 0
    answered: int = 0
    median_hours: float | None = None
    overdue: int = 0
    satisfied: int = 0
    rated: int = 0
    is_total: bool = False

    @property
    def overdue_share(self) -> float | None:
        return self.overdue / self.total if self.total else None

    @property
    def satisfaction(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None


@dataclass
class MonthRow:
    month: str  # "2025-03"
    filed: int = 0
    within_sla: int = 0  # first answer at or before due_at
    overdue: int = 0  # answered late, or unanswered and past due


@dataclass(frozen=True)
class _Req:
    category: str
    region_code: str
    status: RequestStatus
    created_at: datetime
    first_answer_at: datetime | None
    due_at: datetime | None
    rating: Rating | None


# --- loading ----------------------------------------------------------------------------------


def local_start(day: date) -> datetime:
    """The UTC instant a site-local day begins."""
    return datetime.combine(day, time.min, tzinfo=site_zone()).astimezone(UTC)


def default_range(today: date | None = None) -> tuple[date, date]:
    """The last 12 months: from the first day of the month 11 months ago to today."""
    today = today or local_today()
    year, month = today.year, today.month - 11
    if month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1), today


def _requests(date_from: date | None, date_to: date | None) -> list[_Req]:
    stmt = select(
        HelpRequest.category,
        HelpRequest.region_code,
        HelpRequest.status,
        HelpRequest.created_at,
        HelpRequest.first_answer_at,
        HelpRequest.due_at,
        HelpRequest.rating,
    ).where(HelpRequest.held.is_(False))
    if date_from is not None:
        stmt = stmt.where(HelpRequest.created_at >= local_start(date_from))
    if date_to is not None:
        stmt = stmt.where(HelpRequest.created_at < local_start(date_to + timedelta(days=1)))
    return [
        _Req(str(cat), code, status, aware(created), aware(first), aware(due), rating)
        for cat, code, status, created, first, due, rating in db.session.execute(stmt)
    ]


def is_overdue(req: _Req, now: datetime) -> bool:
    if req.due_at is None:
        return False
    if req.first_answer_at is not None:
        return req.first_answer_at > req.due_at
    return req.status not in ENDED and req.due_at < now


def _fill(row: StatRow, reqs: Iterable[_Req], now: datetime) -> StatRow:
    hours: list[float] = []
    for req in reqs:
        row.total += 1
        if req.status not in ENDED:
            row.open += 1
        if req.first_answer_at is not None:
            row.answered += 1
            hours.append((req.first_answer_at - req.created_at).total_seconds() / 3600)
        if is_overdue(req, now):
            row.overdue += 1
        if req.rating is not None:
            row.rated += 1
            row.satisfied += req.rating == Rating.satisfied
    row.median_hours = round(statistics.median(hours), 1) if hours else None
    return row


# --- summaries --------------------------------------------------------------------------------


def region_key(code: str, level: int = 1) -> str:
    """The province ("44") or city ("4403") a request's leaf code falls in."""
    return code[: 2 if level == 1 else 4]


def summary(
    by: str = "category",
    date_from: date | None = None,
    date_to: date | None = None,
    level: int = 1,
    *,
    now: datetime | None = None,
) -> list[StatRow]:
    """One row per category (all six, in enum order) or per region with requests, then the 合计 row."""
    if by not in BY:
        raise ValueError(f"by must be one of {BY}")
    now = now or utcnow()
    reqs = _requests(date_from, date_to)
    groups: dict[str, list[_Req]] = {}
    if by == "category":
        for cat in HelpCategory:
            groups[cat.value] = []
        for req in reqs:
            groups.setdefault(req.category, []).append(req)
        rows = [_fill(StatRow(key, HelpCategory(key).label), items, now) for key, items in groups.items()]
    else:
        level = 2 if level == 2 else 1
        for req in reqs:
            groups.setdefault(region_key(req.region_code, level), []).append(req)
        rows = [_fill(StatRow(key, regions.label(key)), items, now) for key, items in groups.items()]
        rows.sort(key=lambda r: (-r.total, r.key))
    rows.append(_fill(StatRow("", "合计", is_total=True), reqs, now))
    return rows


def _month_key(value: datetime) -> str:
    return value.astimezone(site_zone()).strftime("%Y-%m")


def month_keys(months: int, until: date) -> list[str]:
    year, month = until.year, until.month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(keys))


def monthly(months: int = 12, until: date | None = None, *, now: datetime | None = None) -> list[MonthRow]:
    """Per site-local month of filing, oldest first: filed, answered within the SLA, overdue."""
    months = min(max(months, 1), 60)
    until = until or local_today()
    keys = month_keys(months, until)
    first = date(int(keys[0][:4]), int(keys[0][5:]), 1)
    now = now or utcnow()
    rows = {key: MonthRow(key) for key in keys}
    for req in _requests(first, until):
        row = rows.get(_month_key(req.created_at))
        if row is None:
            continue
        row.filed += 1
        if req.first_answer_at is not None and req.due_at is not None and req.first_answer_at <= req.due_at:
            row.within_sla += 1
        if is_overdue(req, now):
            row.overdue += 1
    return list(rows.values())


def months_between(date_from: date, date_to: date) -> int:
    return (date_to.year - date_from.year) * 12 + date_to.month - date_from.month + 1


def chart_data(rows: list[MonthRow]) -> dict[str, list]:
    """What static/js/helpdesk-charts.js draws; the table beside the chart shows the same numbers."""
    return {
        "months": [r.month for r in rows],
        "filed": [r.filed for r in rows],
        "within_sla": [r.within_sla for r in rows],
        "overdue": [r.overdue for r in rows],
    }


# --- exports ----------------------------------------------------------------------------------

SUMMARY_HEADERS = (
    "分组",
    "求助数",
    "未结束",
    "已答复",
    "首次答复中位时长（小时）",
    "超时数",
    "超时率",
    "评价数",
    "满意度",
)
MONTH_HEADERS = ("月份", "提交", "按时答复", "超时")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def summary_cells(row: StatRow) -> list[Any]:
    return [
        safe_cell(row.label),
        row.total,
        row.open,
        row.answered,
        "" if row.median_hours is None else row.median_hours,
        row.overdue,
        _pct(row.overdue_share),
        row.rated,
        _pct(row.satisfaction),
    ]


def month_cells(row: MonthRow) -> list[Any]:
    return [row.month, row.filed, row.within_sla, row.overdue]


@dataclass
class Report:
    date_from: date
    date_to: date
    level: int
    by_category: list[StatRow]
    by_region: list[StatRow]
    months: list[MonthRow]


def report(date_from: date, date_to: date, level: int = 1, now: datetime | None = None) -> Report:
    """Everything the page and the exports show, for one range."""
    return Report(
        date_from,
        date_to,
        level,
        summary("category", date_from, date_to, now=now),
        summary("region", date_from, date_to, level, now=now),
        monthly(min(months_between(date_from, date_to), 60), date_to, now=now),
    )


def _sections(rep: Report) -> list[tuple[str, tuple[str, ...], list[list[Any]]]]:
    region_title = "按地区（省）" if rep.level == 1 else "按地区（市）"
    return [
        ("按类别", SUMMARY_HEADERS, [summary_cells(r) for r in rep.by_category]),
        (region_title, SUMMARY_HEADERS, [summary_cells(r) for r in rep.by_region]),
        ("月度趋势", MONTH_HEADERS, [month_cells(r) for r in rep.months]),
    ]


def export_csv(rep: Report) -> bytes:
    """UTF-8 with a BOM (Excel on Windows reads the Chinese); one section per table, a blank line between."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"流动党员之家统计 {rep.date_from.isoformat()} 至 {rep.date_to.isoformat()}"])
    for title, headers, rows in _sections(rep):
        writer.writerow([])
        writer.writerow([title])
        writer.writerow(headers)
        writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def export_xlsx(rep: Report) -> bytes:
    """One sheet per table."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for title, headers, rows in _sections(rep):
        sheet = book.create_sheet(title)
        sheet.append(list(headers))
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
