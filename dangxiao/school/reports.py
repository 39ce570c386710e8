"""The branch report: credits, required-course completion and who is behind, for a subtree.

Built from a handful of aggregate queries (GROUP BY over the subtree's members, the subtree
itself from the recursive CTE) and assembled in Python, so 3,000 members cost the same few
queries as 30. No ranking: members are listed by name or by branch, never by credits.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from dangxiao.accounts.branches import ancestor_ids, subtree_ids_query
from dangxiao.accounts.models import Branch, Role, User, UserRole, UserStatus
from dangxiao.accounts.permissions import scope_roots
from dangxiao.errors import NotFound
from dangxiao.exports import safe_cell
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.queries import get_or_404
from dangxiao.school import credit_rules
from dangxiao.school.credit_models import CreditEntry
from dangxiao.school.credits import ZERO
from dangxiao.school.models import Course, CourseAssignment, CourseCompletion
from dangxiao.templating import local_today, site_zone

CENT = credit_rules.CENT
PAGE_SIZE = 25  # member rows per report page: the page stays under 150 KB with the chart library
SORTS = ("name", "branch")


@dataclass
class MemberRow:
    id: int
    name: str
    username: str
    branch_id: int
    branch_name: str
    credits: Decimal
    required: Decimal
    expected: Decimal  # the pro-rata share of `required` due by today
    courses_total: int
    courses_done: int
    overdue: list[str] = field(default_factory=list)

    @property
    def behind(self) -> bool:
        return self.credits < self.expected or bool(self.overdue)

    @property
    def percent(self) -> int:
        return 100 if self.required <= 0 else max(min(int(self.credits * 100 / self.required), 100), 0)


@dataclass
class BranchRow:
    id: int
    name: str
    members: int = 0
    credits: Decimal = ZERO
    behind: int = 0
    courses_total: int = 0
    courses_done: int = 0

    @property
    def average(self) -> Decimal:
        return (self.credits / self.members).quantize(CENT) if self.members else ZERO


@dataclass
class Report:
    root: Branch
    year: int
    today: date
    fraction: float  # share of the year elapsed (1 for a past year)
    members: list[MemberRow]
    branches: list[BranchRow]
    months: list[Decimal]  # credits per month, January first
    courses: list[dict[str, Any]]  # required courses on the root's chain or below

    @cached_property
    def total(self) -> Decimal:
        return sum((m.credits for m in self.members), ZERO)

    @property
    def average(self) -> Decimal:
        return (self.total / len(self.members)).quantize(CENT) if self.members else ZERO

    @cached_property
    def behind(self) -> list[MemberRow]:
        return [m for m in self.members if m.behind]

    @cached_property
    def courses_total(self) -> int:
        return sum(m.courses_total for m in self.members)

    @cached_property
    def courses_done(self) -> int:
        return sum(m.courses_done for m in self.members)

    def chart_data(self) -> dict[str, Any]:
        """What report-chart.js draws (embedded as JSON; the tables beside it show the same)."""
        return {
            "branches": [
                {"name": b.name, "average": float(b.average), "total": float(b.credits)} for b in self.branches
            ],
            "months": [float(v) for v in self.months],
            "year": self.year,
        }


def year_fraction(year: int, today: date) -> float:
    if year < today.year:
        return 1.0
    if year > today.year:
        return 0.0
    days = 366 if calendar.isleap(year) else 365
    return today.timetuple().tm_yday / days


def default_root(actor: Any) -> Branch:
    """The first scope root of a secretary; for admins (no scope) the first top-level branch."""
    roots = scope_roots(actor, Role.branch_secretary)
    if roots:
        return get_or_404(Branch, roots[0], "组织不存在。")
    top = db.session.scalar(select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.name, Branch.id).limit(1))
    if top is None:
        raise NotFound("尚未建立组织。")
    return top


def resolve_root(actor: Any, branch_id: int | None) -> Branch:
    """The branch to report on: the one asked for (within the actor's scope) or the default."""
    branch = default_root(actor) if branch_id is None else None
    target = branch.id if branch is not None else branch_id
    require(actor, "school.report_branch", target, "您无权查看该组织的报表。")
    return branch or get_or_404(Branch, branch_id, "组织不存在。")


def _month_starts(year: int) -> list[datetime]:
    """UTC instants where each local month of `year` begins (January … December)."""
    zone = site_zone()
    return [datetime(year, m, 1, tzinfo=zone).astimezone(UTC) for m in range(1, 13)]


def _months(members, year: int) -> list[Decimal]:
    """Credits per local month (by entry time), in one scan grouped by a month bucket.

    The bucket is a CASE over the twelve local month starts (no dialect-specific date
    functions, and the database reads each entry once). Entries booked to `year` but made
    before it count in January, after it in December, so the months add up to the year's total.
    """
    starts = _month_starts(year)
    bucket = case(*[(CreditEntry.created_at < starts[m + 1], m) for m in range(11)], else_=11).label("month")
    rows = db.session.execute(
        select(bucket, func.sum(CreditEntry.amount))
        .select_from(User)
        .join(CreditEntry, and_(CreditEntry.user_id == User.id, CreditEntry.year == year))
        .where(members)
        .group_by(bucket)
    ).all()
    months = [Decimal(0)] * 12
    for month, total in rows:
        months[int(month)] = Decimal(str(total or 0))
    return [value.quantize(CENT) for value in months]


def build(actor: Any, branch_id: int | None = None, year: int | None = None, today: date | None = None) -> Report:
    """The report for `branch_id`'s subtree (default: the actor's scope root) in `year`."""
    root = resolve_root(actor, branch_id)
    today = today or local_today()
    year = year or today.year
    rules = credit_rules.current()
    sub = subtree_ids_query(root.id)

    tree = db.session.execute(select(Branch.id, Branch.name, Branch.parent_id).where(Branch.id.in_(sub))).all()
    names = {b.id: b.name for b in tree}
    parent = {b.id: b.parent_id for b in tree}

    in_sub = User.branch_id.in_(sub)
    active = User.status == UserStatus.active
    # Per-member sums as a correlated subquery: one statement, an index range per member.
    earned = (
        select(func.coalesce(func.sum(CreditEntry.amount), 0))
        .where(CreditEntry.user_id == User.id, CreditEntry.year == year)
        .correlate(User)
        .scalar_subquery()
    )
    people = db.session.execute(
        select(User.id, User.display_name, User.username, User.branch_id, earned).where(in_sub, active)
    ).all()
    secretaries = set(
        db.session.scalars(
            select(UserRole.user_id)
            .join(User, User.id == UserRole.user_id)
            .where(in_sub, UserRole.role == Role.branch_secretary)
            .distinct()
        )
    )
    above = [b for b in ancestor_ids(root.id) if b != root.id]
    assignments = db.session.execute(
        select(CourseAssignment.branch_id, CourseAssignment.course_id, CourseAssignment.deadline, Course.title)
        .join(Course, Course.id == CourseAssignment.course_id)
        .where(
            CourseAssignment.year == year,
            or_(CourseAssignment.branch_id.in_(sub), CourseAssignment.branch_id.in_(above or [-1])),
        )
        .order_by(CourseAssignment.deadline, Course.title)
    ).all()
    course_ids = {a.course_id for a in assignments}
    done: set[tuple[int, int]] = set()
    if course_ids:
        done = {
            (user_id, course_id)
            for user_id, course_id in db.session.execute(
                select(CourseCompletion.user_id, CourseCompletion.course_id)
                .join(User, User.id == CourseCompletion.user_id)
                .where(in_sub, CourseCompletion.course_id.in_(course_ids))
            ).all()
        }
    months = _months(in_sub & active, year)
    # Required courses per branch: those assigned to it or anywhere above it (earliest deadline wins).
    direct: dict[int | None, dict[int, tuple[date, str]]] = {}
    for a in assignments:
        key = a.branch_id if a.branch_id in names else None  # None: above the root
        slot = direct.setdefault(key, {})
        if a.course_id not in slot or a.deadline < slot[a.course_id][0]:
            slot[a.course_id] = (a.deadline, a.title)
    chains: dict[int, dict[int, tuple[date, str]]] = {}

    def required_courses(branch: int) -> dict[int, tuple[date, str]]:
        if branch not in chains:
            up = parent.get(branch)
            inherited = required_courses(up) if up in names and branch != root.id else dict(direct.get(None, {}))
            merged = dict(inherited)
            for course_id, value in direct.get(branch, {}).items():
                if course_id not in merged or value[0] < merged[course_id][0]:
                    merged[course_id] = value
            chains[branch] = merged
        return chains[branch]

    top_cache: dict[int, int] = {}

    def top_of(branch: int) -> int:
        """The child of the root that `branch` sits under (the root itself for its own members)."""
        if branch not in top_cache:
            up = parent.get(branch)
            top_cache[branch] = branch if branch == root.id or up == root.id else top_of(up)
        return top_cache[branch]

    fraction = year_fraction(year, today)
    rows: list[MemberRow] = []
    groups: dict[int, BranchRow] = {}
    children = sorted((b for b in tree if b.parent_id == root.id), key=lambda b: (b.name, b.id))
    groups[root.id] = BranchRow(root.id, f"{root.name}（本级）")
    for b in children:
        groups[b.id] = BranchRow(b.id, b.name)
    for p in people:
        required = credit_rules.requirement(p.id in secretaries, rules)
        courses = required_courses(p.branch_id)
        overdue = [title for cid, (deadline, title) in courses.items() if deadline < today and (p.id, cid) not in done]
        row = MemberRow(
            id=p.id,
            name=p.display_name,
            username=p.username,
            branch_id=p.branch_id,
            branch_name=names.get(p.branch_id, ""),
            credits=Decimal(str(p[4] or 0)).quantize(CENT),
            required=required,
            expected=(required * Decimal(str(fraction))).quantize(CENT),
            courses_total=len(courses),
            courses_done=sum(1 for cid in courses if (p.id, cid) in done),
            overdue=overdue,
        )
        rows.append(row)
        group = groups[top_of(p.branch_id)]
        group.members += 1
        group.credits += row.credits
        group.behind += int(row.behind)
        group.courses_total += row.courses_total
        group.courses_done += row.courses_done
    if not groups[root.id].members and children:
        del groups[root.id]  # a 党委 without members of its own: show only its branches
    rows.sort(key=lambda m: (m.name, m.username))
    course_list = []
    for course_id, (deadline, title) in required_courses(root.id).items():
        course_list.append({"id": course_id, "title": title, "deadline": deadline})
    return Report(root, year, today, fraction, rows, list(groups.values()), months, course_list)


def sorted_members(report: Report, sort: str = "name") -> list[MemberRow]:
    if sort == "branch":
        return sorted(report.members, key=lambda m: (m.branch_name, m.name, m.username))
    return report.members


def branch_options(actor: Any) -> list[tuple[int, str]]:
    """(id, indented name) of every branch the actor may report on, in tree order."""
    from dangxiao.accounts.branches import tree_rows

    roots = scope_roots(actor, Role.branch_secretary)
    rows = tree_rows()
    if roots is None:
        return [(b.id, "　" * depth + b.name) for b, depth in rows]
    options: list[tuple[int, str]] = []
    inside: int | None = None  # depth of the scope root we are under, in the depth-first walk
    for b, depth in rows:
        if inside is not None and depth <= inside:
            inside = None
        if inside is None and b.id in roots:
            inside = depth
        if inside is not None:
            options.append((b.id, "　" * (depth - inside) + b.name))
    return options


# --- exports: every member (not just the page), the same numbers as the page -----------------

HEADERS = (
    "姓名",
    "用户名",
    "所在组织",
    "本年学时",
    "年度要求",
    "应达进度",
    "完成比例",
    "必修课程",
    "已完成必修",
    "逾期必修课",
    "是否落后",
)
BRANCH_HEADERS = ("组织", "党员人数", "学时合计", "人均学时", "落后人数", "必修完成", "必修应完成")


def member_cells(m: MemberRow) -> list[Any]:
    return [
        safe_cell(m.name),
        safe_cell(m.username),
        safe_cell(m.branch_name),
        float(m.credits),
        float(m.required),
        float(m.expected),
        f"{m.percent}%",
        m.courses_total,
        m.courses_done,
        safe_cell("、".join(m.overdue)),
        "是" if m.behind else "否",
    ]


def branch_cells(b: BranchRow) -> list[Any]:
    return [safe_cell(b.name), b.members, float(b.credits), float(b.average), b.behind, b.courses_done, b.courses_total]


def export_csv(report: Report, sort: str = "name") -> bytes:
    """UTF-8 with a BOM so Excel on Windows opens the Chinese correctly."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    for m in sorted_members(report, sort):
        writer.writerow(member_cells(m))
    return buffer.getvalue().encode("utf-8-sig")


def export_xlsx(report: Report, sort: str = "name") -> bytes:
    """Two sheets: members (all of them) and the per-branch aggregates."""
    import io

    from openpyxl import Workbook

    book = Workbook(write_only=True)  # streams rows: thousands of members stay quick
    sheet = book.create_sheet("党员学时")
    sheet.append(list(HEADERS))
    for m in sorted_members(report, sort):
        sheet.append(member_cells(m))
    branches = book.create_sheet("组织汇总")
    branches.append(list(BRANCH_HEADERS))
    for b in report.branches:
        branches.append(branch_cells(b))
    trend = book.create_sheet("月度趋势")
    trend.append(["月份", "学时"])
    for i, value in enumerate(report.months, start=1):
        trend.append([f"{i}月", float(value)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
