"""The school's search documents: published courses and their lessons (registered on import).

A course or lesson carries the token "course:<id>"; a reader holds the tokens of the courses
:func:`visible_courses_stmt` lets them see. Assigning a course to a branch or enrolling
therefore changes what a member finds without touching the index; publishing or
unpublishing a course re-marks its lessons (they are indexed only while it is published).
`category` is the course category's id as a string (names are unique only under one parent
and may be renamed; ids are neither).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import inspect, select

from dangxiao.db_types import aware
from dangxiao.extensions import db
from dangxiao.markup import plain_text
from dangxiao.notifications.service import path_for
from dangxiao.school.models import Course, Lesson
from dangxiao.school.visibility import visible_courses_stmt
from dangxiao.search import KIND_LABELS, Doc, Source, register_source
from dangxiao.search.service import watch

CHUNK = 500  # ids per IN (…) list: well under SQLite's bound-parameter limit


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _category(course: Course) -> str:
    return str(course.category_id) if course.category_id is not None else ""


def load_courses(ids: list[int]) -> list[Doc]:
    docs = []
    for chunk in _chunks(list(ids)):
        for course in db.session.scalars(select(Course).where(Course.id.in_(chunk), Course.published.is_(True))):
            body = plain_text(course.summary_html or "") or course.summary or ""
            if course.teacher:
                body = f"{body}\n主讲：{course.teacher}"
            docs.append(
                Doc(
                    kind="course",
                    ref_id=course.id,
                    title=course.title,
                    body=body,
                    url=path_for("school.course", course_id=course.id),
                    access=f"course:{course.id}",
                    created_at=aware(course.published_at or course.created_at),
                    category=_category(course),
                )
            )
    return docs


def load_lessons(ids: list[int]) -> list[Doc]:
    docs = []
    for chunk in _chunks(list(ids)):
        rows = db.session.execute(
            select(Lesson.id, Lesson.title, Lesson.description_html, Lesson.created_at, Course.id, Course.category_id)
            .join(Course, Course.id == Lesson.course_id)
            .where(Lesson.id.in_(chunk), Course.published.is_(True))
        )
        for lesson_id, title, description_html, created_at, course_id, category_id in rows:
            docs.append(
                Doc(
                    kind="lesson",
                    ref_id=lesson_id,
                    title=title,
                    body=plain_text(description_html or ""),
                    url=path_for("school.lesson", lesson_id=lesson_id),
                    access=f"course:{course_id}",
                    created_at=aware(created_at),
                    category=str(category_id) if category_id is not None else "",
                )
            )
    return docs


def course_ids() -> list[int]:
    return list(db.session.scalars(select(Course.id).where(Course.published.is_(True)).order_by(Course.id)))


def lesson_ids() -> list[int]:
    stmt = select(Lesson.id).join(Course, Course.id == Lesson.course_id).where(Course.published.is_(True))
    return list(db.session.scalars(stmt.order_by(Lesson.id)))


def viewer_tokens(actor: Any) -> list[str]:
    """The token course:<id> of every course the actor may see (none for anonymous visitors)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return []
    stmt = visible_courses_stmt(actor).with_only_columns(Course.id).order_by(None)
    return [f"course:{course_id}" for course_id in db.session.scalars(stmt)]


def _changed(obj: Any, *names: str) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def course_marks(course: Course) -> Iterable[tuple[str, int]]:
    """The course itself; its lessons too when publishing or the category changed (they follow it)."""
    yield "course", course.id
    if _changed(course, "published", "category_id"):
        for lesson_id in db.session.scalars(select(Lesson.id).where(Lesson.course_id == course.id)):
            yield "lesson", lesson_id


register_source(Source("course", KIND_LABELS["course"], load_courses, course_ids, viewer_tokens))
register_source(Source("lesson", KIND_LABELS["lesson"], load_lessons, lesson_ids, viewer_tokens))
# Only what a document shows or who may find it: credit hours, covers and settings do not re-index.
watch(
    Course,
    "course",
    course_marks,
    fields=("title", "summary", "summary_html", "teacher", "published", "published_at", "category_id"),
)
watch(Lesson, "lesson", fields=("title", "description_html", "course_id", "created_at"))
