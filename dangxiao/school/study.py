"""The member's view of the school: catalogue, course and lesson pages, 我的学习, enrolment.

Read-only helpers take the viewing user and answer "not found" for a course the user may
not see (never revealing that it exists). Every list is built from a few grouped queries
(lesson counts, completed lessons, assignments) so a page costs the same for 1 or 20 cards.
Progress is read straight from ``LessonProgress`` rows (the watch service writes them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.policy import can, require
from dangxiao.queries import insert_ignore
from dangxiao.school import visibility
from dangxiao.school.models import (
    Category,
    Course,
    CourseAssignment,
    CourseCompletion,
    Enrollment,
    Lesson,
    LessonProgress,
)
from dangxiao.templating import local_today
from dangxiao.text.clean import strip_invisible

PAGE_SIZE = 20
MAX_QUERY = 100  # characters of the search box that are used; the rest is ignored
NOT_FOUND = "课程不存在或您无权查看。"


# --- small grouped lookups -------------------------------------------------------------------


@dataclass
class Deadline:
    deadline: date
    days_left: int

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


def lesson_counts(course_ids: list[int]) -> dict[int, int]:
    if not course_ids:
        return {}
    stmt = select(Lesson.course_id, func.count(Lesson.id)).where(Lesson.course_id.in_(course_ids))
    return dict(db.session.execute(stmt.group_by(Lesson.course_id)).all())


def done_counts(user_id: int, course_ids: list[int]) -> dict[int, int]:
    """Completed lessons per course for one member."""
    if not course_ids:
        return {}
    stmt = (
        select(Lesson.course_id, func.count(LessonProgress.id))
        .join(LessonProgress, LessonProgress.lesson_id == Lesson.id)
        .where(Lesson.course_id.in_(course_ids), LessonProgress.user_id == user_id, LessonProgress.complete.is_(True))
        .group_by(Lesson.course_id)
    )
    return dict(db.session.execute(stmt).all())


def progress_rows(user_id: int, lesson_ids: list[int]) -> dict[int, LessonProgress]:
    if not lesson_ids:
        return {}
    stmt = select(LessonProgress).where(LessonProgress.user_id == user_id, LessonProgress.lesson_id.in_(lesson_ids))
    return {p.lesson_id: p for p in db.session.scalars(stmt)}


def completed_courses(user_id: int, course_ids: list[int]) -> set[int]:
    if not course_ids:
        return set()
    stmt = select(CourseCompletion.course_id).where(
        CourseCompletion.user_id == user_id, CourseCompletion.course_id.in_(course_ids)
    )
    return set(db.session.scalars(stmt))


def enrolled_courses(user_id: int, course_ids: list[int] | None = None) -> set[int]:
    stmt = select(Enrollment.course_id).where(Enrollment.user_id == user_id)
    if course_ids is not None:
        if not course_ids:
            return set()
        stmt = stmt.where(Enrollment.course_id.in_(course_ids))
    return set(db.session.scalars(stmt))


def deadlines(user: Any, course_ids: list[int] | None = None, year: int | None = None) -> dict[int, Deadline]:
    """The member's required courses (assigned on their branch chain) → the earliest deadline.

    With `year` None, this year's assignment wins over older ones (the latest year per course).
    """
    today = local_today()
    stmt = visibility.assignments_for(user, year)
    if course_ids is not None:
        if not course_ids:
            return {}
        stmt = stmt.where(CourseAssignment.course_id.in_(course_ids))
    stmt = stmt.with_only_columns(CourseAssignment.course_id, CourseAssignment.year, CourseAssignment.deadline)
    best: dict[int, tuple[int, date]] = {}
    for course_id, year_, deadline in db.session.execute(stmt):
        current = best.get(course_id)
        if current is None or (-year_, deadline) < (-current[0], current[1]):
            best[course_id] = (year_, deadline)
    return {cid: Deadline(d, (d - today).days) for cid, (_, d) in best.items()}


@dataclass
class Card:
    """One course as a list shows it: counts and the member's standing in it."""

    course: Course
    lessons: int = 0
    done: int = 0
    deadline: Deadline | None = None
    enrolled: bool = False
    completed: bool = False
    started: bool = False

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.lessons) if self.lessons else 0

    @property
    def required(self) -> bool:
        return self.deadline is not None


def cards_for(user: Any, courses: list[Course]) -> list[Card]:
    ids = [c.id for c in courses]
    counts, done = lesson_counts(ids), done_counts(user.id, ids)
    due, enrolled, completed = deadlines(user, ids), enrolled_courses(user.id, ids), completed_courses(user.id, ids)
    return [
        Card(
            course=c,
            lessons=counts.get(c.id, 0),
            done=done.get(c.id, 0),
            deadline=due.get(c.id),
            enrolled=c.id in enrolled,
            completed=c.id in completed,
        )
        for c in courses
    ]


# --- catalogue -------------------------------------------------------------------------------


@dataclass
class CategoryNode:
    category: Category
    count: int = 0  # visible courses here and below
    depth: int = 0
    children: list[CategoryNode] = field(default_factory=list)


@dataclass
class CataloguePage:
    cards: list[Card]
    total: int
    page: int
    pages: int
    q: str
    category: Category | None
    tree: list[CategoryNode]
    uncategorised: int = 0


def clean_query(raw: Any) -> str:
    """The search box as typed, made safe to bind: no control characters, bounded length."""
    if not isinstance(raw, str):
        return ""
    return " ".join(strip_invisible(raw).split())[:MAX_QUERY]


def category_tree(user: Any) -> tuple[list[CategoryNode], dict[int, CategoryNode], int]:
    """Every category with the count of courses `user` may see in it and below (one grouped query)."""
    categories = list(db.session.scalars(select(Category).order_by(Category.position, Category.id)))
    stmt = (
        visibility.visible_courses_stmt(user)
        .with_only_columns(Course.category_id, func.count(Course.id))
        .group_by(Course.category_id)
    )
    direct = dict(db.session.execute(stmt).all())
    nodes = {c.id: CategoryNode(c, direct.get(c.id, 0)) for c in categories}
    roots: list[CategoryNode] = []
    for c in categories:
        parent = nodes.get(c.parent_id) if c.parent_id else None
        (parent.children if parent else roots).append(nodes[c.id])

    def roll_up(node: CategoryNode, depth: int) -> int:
        node.depth = depth
        node.count += sum(roll_up(child, depth + 1) for child in node.children)
        return node.count

    for root in roots:
        roll_up(root, 0)
    return roots, nodes, direct.get(None, 0)


def _subtree_ids(node: CategoryNode) -> list[int]:
    ids = [node.category.id]
    for child in node.children:
        ids.extend(_subtree_ids(child))
    return ids


def catalogue(user: Any, *, category_id: int | None = None, q: Any = "", page: int = 1) -> CataloguePage:
    """A page of the courses `user` may see, optionally in a category subtree and matching `q`."""
    roots, nodes, uncategorised = category_tree(user)
    query = clean_query(q)
    stmt = visibility.visible_courses_stmt(user)
    node = nodes.get(category_id) if category_id else None
    if node is not None:
        stmt = stmt.where(Course.category_id.in_(_subtree_ids(node)))
    if query:
        stmt = stmt.where(Course.title.icontains(query, autoescape=True))
    total = db.session.scalar(stmt.with_only_columns(func.count(Course.id)).order_by(None)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    courses = list(
        db.session.scalars(
            stmt.options(selectinload(Course.category))
            .order_by(Course.year.desc(), Course.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
    )
    return CataloguePage(
        cards=cards_for(user, courses),
        total=total,
        page=page,
        pages=pages,
        q=query,
        category=node.category if node else None,
        tree=roots,
        uncategorised=uncategorised,
    )


# --- one course, one lesson ------------------------------------------------------------------


@dataclass
class LessonRow:
    lesson: Lesson
    progress: LessonProgress | None

    @property
    def percent(self) -> int:
        p = self.progress
        if p is None or not self.lesson.duration:
            return 100 if p is not None and p.complete else 0
        return 100 if p.complete else min(99, int(100 * p.played / self.lesson.duration))

    @property
    def complete(self) -> bool:
        return bool(self.progress and self.progress.complete)


@dataclass
class CourseView:
    course: Course
    rows: list[LessonRow]
    deadline: Deadline | None
    enrolled: bool
    completed: bool

    @property
    def done(self) -> int:
        return sum(1 for r in self.rows if r.complete)

    @property
    def percent(self) -> int:
        return int(100 * self.done / len(self.rows)) if self.rows else 0

    @property
    def started(self) -> bool:
        return any(r.progress is not None and r.progress.played > 0 for r in self.rows)

    @property
    def can_enrol(self) -> bool:
        """Electives (anything not required of this member) may be enrolled once."""
        return self.course.published and self.deadline is None and not self.enrolled


def visible_course(user: Any, course_id: int) -> Course:
    """The course if `user` may see it; otherwise the same 404 whether it exists or not."""
    course = db.session.get(Course, course_id) if 0 < course_id else None
    if course is None or not can(user, "school.view_course", course):
        raise NotFound(NOT_FOUND)
    return course


def _lessons(course_id: int) -> list[Lesson]:
    stmt = (
        select(Lesson)
        .where(Lesson.course_id == course_id)
        .options(selectinload(Lesson.attachments))
        .order_by(Lesson.position, Lesson.id)
    )
    return list(db.session.scalars(stmt))


def course_view(user: Any, course_id: int) -> CourseView:
    course = visible_course(user, course_id)
    lessons = _lessons(course.id)
    progress = progress_rows(user.id, [lesson.id for lesson in lessons])
    return CourseView(
        course=course,
        rows=[LessonRow(lesson, progress.get(lesson.id)) for lesson in lessons],
        deadline=deadlines(user, [course.id]).get(course.id),
        enrolled=bool(enrolled_courses(user.id, [course.id])),
        completed=bool(completed_courses(user.id, [course.id])),
    )


@dataclass
class LessonView:
    lesson: Lesson
    course: Course
    rows: list[LessonRow]
    previous: Lesson | None
    next: Lesson | None


def lesson_view(user: Any, lesson_id: int) -> LessonView:
    """The lesson, its course's lesson list and neighbours; 404 unless the course is visible."""
    lesson = db.session.get(Lesson, lesson_id) if 0 < lesson_id else None
    if lesson is None:
        raise NotFound("课时不存在或您无权查看。")
    course = visible_course(user, lesson.course_id)
    lessons = _lessons(course.id)
    progress = progress_rows(user.id, [item.id for item in lessons])
    index = next(i for i, item in enumerate(lessons) if item.id == lesson.id)
    return LessonView(
        lesson=lessons[index],
        course=course,
        rows=[LessonRow(item, progress.get(item.id)) for item in lessons],
        previous=lessons[index - 1] if index > 0 else None,
        next=lessons[index + 1] if index + 1 < len(lessons) else None,
    )


# --- 我的学习 ----------------------------------------------------------------------------------


@dataclass
class MyStudy:
    required: list[Card]
    electives: list[Card]
    in_progress: list[Card]
    year: int


def my_study(user: Any) -> MyStudy:
    """Required this year (incomplete first, by deadline), then enrolled electives, then others begun."""
    year = local_today().year
    due = deadlines(user, year=year)
    enrolled = enrolled_courses(user.id)
    started_stmt = (
        select(Lesson.course_id, func.max(LessonProgress.updated_at))
        .join(LessonProgress, LessonProgress.lesson_id == Lesson.id)
        .where(LessonProgress.user_id == user.id)
        .group_by(Lesson.course_id)
    )
    started = dict(db.session.execute(started_stmt).all())
    wanted = set(due) | enrolled | set(started)
    visible = visibility.visible_courses_stmt(user).where(Course.id.in_(wanted)) if wanted else None
    courses = list(db.session.scalars(visible)) if visible is not None else []
    cards = {card.course.id: card for card in cards_for(user, courses)}
    for card in cards.values():
        card.deadline = due.get(card.course.id)  # this year's only, on this page
        card.started = card.course.id in started

    required = sorted(
        (c for cid, c in cards.items() if cid in due),
        key=lambda c: (c.completed, c.deadline.deadline, c.course.id),
    )
    electives = sorted(
        (c for cid, c in cards.items() if cid not in due and cid in enrolled), key=lambda c: (c.completed, -c.course.id)
    )
    others = [c for cid, c in cards.items() if cid not in due and cid not in enrolled]
    epoch = datetime.min
    others.sort(key=lambda c: (started.get(c.course.id) or epoch).replace(tzinfo=None), reverse=True)
    return MyStudy(required=required, electives=electives, in_progress=others, year=year)


# --- enrolment -------------------------------------------------------------------------------


def enrol(actor: Any, course_id: int) -> bool:
    """Enrol `actor` in an elective they may see; True if this call enrolled them (idempotent)."""
    course = visible_course(actor, course_id)
    require(actor, "school.view_course", course)
    if not course.published:
        raise DomainError("课程尚未发布，暂不能报名。", "course_unpublished")
    if deadlines(actor, [course.id]):
        raise DomainError("这是您的必修课，无需报名，直接学习即可。", "course_required")
    stmt = insert_ignore(Enrollment).values(user_id=actor.id, course_id=course.id, created_at=utcnow())
    result = db.session.execute(stmt.returning(Enrollment.id))
    created = result.first() is not None
    if created:
        current_app.logger.info("school: user %s enrolled in course %s", actor.id, course.id)
    return created
