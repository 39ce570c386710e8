"""Who sees which course: the one answer the catalogue, the player, quizzes and media grants share.

A published course is visible to an active member when it is open to all, when it is
assigned (required) to the member's branch or any branch above it, or when the member
enrolled in it. Admins see every course, published or not (to preview it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, or_, select

from dangxiao.accounts.models import Branch, Role
from dangxiao.accounts.permissions import has_role
from dangxiao.extensions import db
from dangxiao.policy import is_system
from dangxiao.school.models import Course, CourseAssignment, Enrollment, Lesson


def is_school_admin(user: Any) -> bool:
    return is_system(user) or has_role(user, Role.admin)


def chain_query(user: Any) -> Select:
    """The member's branch and every branch above it (assignments on any of them apply), as a
    recursive-CTE subquery so the caller's query needs no extra round trip."""
    branch_id = getattr(user, "branch_id", None)
    if not branch_id:
        return select(Branch.id).where(False)
    up = select(Branch.id, Branch.parent_id).where(Branch.id == branch_id).cte("chain", recursive=True)
    up = up.union_all(select(Branch.id, Branch.parent_id).where(Branch.id == up.c.parent_id))
    return select(up.c.id)


def visible_courses_stmt(user: Any) -> Select:
    """``select(Course)`` filtered to what `user` may see (add ordering and paging yourself)."""
    stmt = select(Course)
    if is_school_admin(user):
        return stmt
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return stmt.where(False)  # anonymous visitors browse nothing member-only
    chain = chain_query(user)
    assigned = exists().where(CourseAssignment.course_id == Course.id, CourseAssignment.branch_id.in_(chain))
    enrolled = exists().where(Enrollment.course_id == Course.id, Enrollment.user_id == user.id)
    return stmt.where(Course.published.is_(True), or_(Course.open_to_all.is_(True), assigned, enrolled))


def may_view_course(user: Any, course: Course | None) -> bool:
    if course is None:
        return False
    stmt = visible_courses_stmt(user).where(Course.id == course.id).with_only_columns(Course.id)
    return db.session.scalar(stmt) is not None


def may_watch_lesson(user: Any, lesson: Lesson | None) -> bool:
    """Members may watch the lessons of courses they may see, once the lesson's asset is ready."""
    if lesson is None or lesson.asset is None or not lesson.asset.is_ready:
        return False
    return may_view_course(user, lesson.course)


def assignments_for(user: Any, year: int | None = None) -> Select:
    """``select(CourseAssignment)`` applying to `user` (their branch chain), optionally for one year."""
    stmt = select(CourseAssignment).where(CourseAssignment.branch_id.in_(chain_query(user)))
    if year is not None:
        stmt = stmt.where(CourseAssignment.year == year)
    return stmt
