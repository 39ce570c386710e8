"""Required-course assignments: a course due for every member under a branch in a year.

Services take the actor, require "school.manage" and flush; the caller commits.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from dangxiao.accounts.branches import get_branch
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.queries import get_or_404
from dangxiao.school.categories import book
from dangxiao.school.models import Course, CourseAssignment
from dangxiao.templating import local_today

MANAGE = "school.manage"


def this_year() -> int:
    return local_today().year


today = local_today  # the catalogue's name for it (catalogue.today)


def parse_int(raw: Any, field: str, label: str, low: int, high: int) -> int | None:
    """A whole number typed in a form (or sent as JSON) within [low, high]; None when blank."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise DomainError(f"{label}必须是整数。", f"{field}_invalid", field)
    if isinstance(raw, str):
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
            raise DomainError(f"{label}必须是整数。", f"{field}_invalid", field)
        raw = int(raw)
    if not isinstance(raw, int):
        raise DomainError(f"{label}必须是整数。", f"{field}_invalid", field)
    if not low <= raw <= high:
        raise DomainError(f"{label}应在 {low} 到 {high} 之间。", f"{field}_range", field)
    return raw


def _parse_date(raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(raw.strip())
    except (AttributeError, TypeError, ValueError):
        raise DomainError("请填写正确的截止日期（年-月-日）。", "deadline_invalid", "deadline") from None


def _check_deadline(deadline: date, year: int) -> None:
    if not date(year, 1, 1) <= deadline <= date(year + 1, 3, 31):
        raise DomainError(f"截止日期应在 {year} 年内（最晚到次年 3 月 31 日）。", "deadline_out_of_year", "deadline")


def get_assignment(assignment_id: int) -> CourseAssignment:
    return get_or_404(CourseAssignment, assignment_id, "指派不存在。")


def assign_course(actor: Any, course_id: int, branch_id: Any, year: Any, deadline: Any) -> CourseAssignment:
    """Make a required course due for every member under `branch_id` in `year`."""
    require(actor, MANAGE)
    course = get_or_404(Course, course_id, "课程不存在。")
    if not course.required:
        raise DomainError("只有必修课程才能指派给组织，请先在课程设置中勾选“必修”。", "course_not_required")
    if not branch_id:
        raise DomainError("请选择组织。", "branch_empty", "branch_id")
    branch = get_branch(branch_id)
    year_value = parse_int(year, "year", "年度", 2000, this_year() + 1)
    if year_value is None:
        raise DomainError("请填写年度。", "year_empty", "year")
    due = _parse_date(deadline)
    _check_deadline(due, year_value)
    if due < today():
        raise DomainError("截止日期不能早于今天。", "deadline_past", "deadline")
    duplicate = select(CourseAssignment.id).where(
        CourseAssignment.course_id == course.id,
        CourseAssignment.branch_id == branch.id,
        CourseAssignment.year == year_value,
    )
    if db.session.scalar(duplicate) is not None:
        raise DomainError(
            f"{book(course.title)}已指派给“{branch.name}”（{year_value} 年），不能重复指派；如需改期请修改截止日期。",
            "assignment_duplicate",
            "branch_id",
        )
    assignment = CourseAssignment(
        course_id=course.id,
        branch_id=branch.id,
        year=year_value,
        deadline=due,
        assigned_by_id=getattr(actor, "id", None),
    )
    db.session.add(assignment)
    db.session.flush()
    return assignment


def update_assignment(actor: Any, assignment_id: int, deadline: Any) -> CourseAssignment:
    """Move a deadline (within the assignment's year; an existing one may already be past)."""
    require(actor, MANAGE)
    assignment = get_assignment(assignment_id)
    due = _parse_date(deadline)
    _check_deadline(due, assignment.year)
    assignment.deadline = due
    db.session.flush()
    return assignment


def remove_assignment(actor: Any, assignment_id: int) -> CourseAssignment:
    require(actor, MANAGE)
    assignment = get_assignment(assignment_id)
    db.session.delete(assignment)
    db.session.flush()
    return assignment


def course_assignments(course_id: int) -> list[CourseAssignment]:
    stmt = (
        select(CourseAssignment)
        .where(CourseAssignment.course_id == course_id)
        .options(joinedload(CourseAssignment.branch))
        .order_by(CourseAssignment.year.desc(), CourseAssignment.deadline, CourseAssignment.id)
    )
    return list(db.session.scalars(stmt))
