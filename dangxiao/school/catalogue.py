"""The catalogue: courses and their lessons, with categories and assignments re-exported.

Every change takes the acting user, requires "school.manage" and flushes; the caller commits
(``with atomic():``). Categories live in ``categories``, required-course assignments in
``assignments`` (both re-exported here, so callers use one name), files (covers,
attachments) in ``files``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from flask import url_for
from sqlalchemy import exists, func, select
from sqlalchemy.orm import joinedload

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.markup import render_for_app
from dangxiao.policy import require
from dangxiao.queries import get_or_404
from dangxiao.school.assignments import (  # noqa: F401 — re-exported
    assign_course,
    course_assignments,
    get_assignment,
    parse_int,
    remove_assignment,
    this_year,
    today,
    update_assignment,
)
from dangxiao.school.categories import (  # noqa: F401 — re-exported
    book,
    category_tree,
    create_category,
    delete_category,
    get_category,
    move_category,
    rename_category,
    renumber,
    reorder_category,
    swap,
)
from dangxiao.school.models import (
    Course,
    CourseCompletion,
    Lesson,
    LessonProgress,
)
from dangxiao.school.quiz_models import Quiz, QuizAttempt
from dangxiao.text.clean import clean_block, clean_line, strip_invisible
from dangxiao.transactions import after_commit
from media.models import AssetStatus, MediaAsset

MANAGE = "school.manage"
#: Default credit per lesson by duration (seconds): ≥ 30 min = 1, 15–30 min = 0.5, < 15 min = 0.25.
CREDIT_TIERS = ((1800.0, 1.0), (900.0, 0.5), (0.0, 0.25))
MAX_CREDIT_HOURS = 200.0


# ---------------------------------------------------------------- courses


def get_course(course_id: int) -> Course:
    return get_or_404(Course, course_id, "课程不存在。")


def lesson_credit(duration: float | None) -> float:
    seconds = float(duration or 0)
    return next(credit for floor, credit in CREDIT_TIERS if seconds >= floor)


def auto_credit_hours(durations: list[float]) -> float:
    """The default 学时 of a course: the sum of its lessons' credits by the tiers."""
    return round(sum(lesson_credit(d) for d in durations), 2)


def _durations(course: Course) -> list[float]:
    return [lesson.duration for lesson in course.lessons]


def _parse_credit(raw: Any) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise DomainError("学时必须是数字，例如 1 或 1.5。", "credit_hours_invalid", "credit_hours") from None
    if isinstance(raw, bool) or not math.isfinite(value) or not 0 <= value <= MAX_CREDIT_HOURS:
        raise DomainError(
            f"学时应在 0 到 {MAX_CREDIT_HOURS:g} 之间（留空按课时时长计算）。", "credit_hours_range", "credit_hours"
        )
    return round(value, 2)


def _render_summary(text: str) -> str:
    try:
        return render_for_app(text)
    except DomainError as error:
        raise DomainError(error.message, error.code, "summary") from None


def save_course(
    actor: Any,
    course_id: int | None = None,
    *,
    title: Any,
    year: Any,
    summary: Any = "",
    teacher: Any = "",
    required: bool = False,
    open_to_all: bool = True,
    credit_hours: Any = None,
    attention_minutes: Any = None,
    category_id: int | None = None,
) -> Course:
    """Create (course_id None) or edit a course. `credit_hours` None/"" = by lesson durations."""
    require(actor, MANAGE)
    course = get_course(course_id) if course_id is not None else None
    title = clean_line(title, "title", "课程名称", 200)
    teacher = clean_line(teacher, "teacher", "主讲人", 50, required=False)
    summary = clean_block(summary, "summary", "课程简介", 20000, required=False)
    year_value = parse_int(year, "year", "年度", 2000, this_year() + 1)
    if year_value is None:
        raise DomainError("请填写年度。", "year_empty", "year")
    credit = _parse_credit(credit_hours)
    minutes = parse_int(attention_minutes, "attention_minutes", "专注提醒间隔（分钟）", 1, 120)
    category = get_category(category_id) if category_id else None
    if course is None:
        course = Course(created_by_id=getattr(actor, "id", None), published=False)
        db.session.add(course)
    course.title, course.teacher, course.year = title, teacher, year_value
    course.summary, course.summary_html = summary, _render_summary(summary)
    course.required, course.open_to_all = bool(required), bool(open_to_all)
    course.attention_minutes = minutes
    course.category_id = category.id if category else None
    course.credit_hours = credit if credit is not None else auto_credit_hours(_durations(course) if course.id else [])
    db.session.flush()
    return course


def create_course(actor: Any, **fields: Any) -> Course:
    return save_course(actor, None, **fields)


def update_course(actor: Any, course_id: int, **fields: Any) -> Course:
    return save_course(actor, course_id, **fields)


def _not_ready_message(lesson_title: str, asset: MediaAsset | None) -> str:
    if asset is None:
        return f"课时“{lesson_title}”没有关联媒体。"
    return f"课时“{lesson_title}”的媒体“{asset.title}”尚未可播放（{asset.status.label}）。"


def publish_course(actor: Any, course_id: int) -> Course:
    """Publish a course whose every lesson plays a ready asset."""
    require(actor, MANAGE)
    course = get_course(course_id)
    if not course.lessons:
        raise DomainError("课程还没有课时，不能发布。请先添加至少一个课时。", "course_no_lessons")
    for lesson in course.lessons:
        if lesson.asset is None or not lesson.asset.is_ready:
            raise DomainError(
                _not_ready_message(lesson.title, lesson.asset) + "请等转码完成或换用已可播放的媒体后再发布。",
                "lesson_not_ready",
            )
    if not course.published:
        course.published, course.published_at = True, utcnow()
    db.session.flush()
    return course


def unpublish_course(actor: Any, course_id: int) -> Course:
    require(actor, MANAGE)
    course = get_course(course_id)
    course.published = False
    db.session.flush()
    return course


def has_member_activity(course_id: int) -> bool:
    """Progress, a completion or a quiz attempt: deleting would erase members' study records."""
    lesson_ids = select(Lesson.id).where(Lesson.course_id == course_id)
    quiz_ids = select(Quiz.id).where(Quiz.course_id == course_id)
    return bool(
        db.session.scalar(
            select(
                exists().where(LessonProgress.lesson_id.in_(lesson_ids))
                | exists().where(CourseCompletion.course_id == course_id)
                | exists().where(QuizAttempt.quiz_id.in_(quiz_ids))
            )
        )
    )


def delete_course(actor: Any, course_id: int) -> str:
    """Delete a course nobody has studied yet (its lessons, attachments and cover go with it)."""
    from dangxiao.school import files

    require(actor, MANAGE)
    course = get_course(course_id)
    if has_member_activity(course.id):
        raise DomainError(
            f"已有学员学习过{book(course.title)}，不能删除（会抹去他们的学习记录）。如不再开放，请改为“取消发布”。",
            "course_has_progress",
        )
    paths = [course.cover_path] + [a.stored_path for lesson in course.lessons for a in lesson.attachments]
    title = course.title
    db.session.delete(course)
    db.session.flush()
    after_commit(partial(files.remove_files, paths))
    return title


def cover_url(course: Course) -> str | None:
    """The course's cover image URL (versioned, so a new cover is never a stale cache), or None."""
    if not course.cover_path:
        return None
    version = course.cover_path.rsplit("-", 1)[-1].split(".", 1)[0]
    return url_for("school_files.cover", course_id=course.id, v=version)


def list_courses(
    category_id: int | None = None, published: bool | None = None, query: str = ""
) -> list[tuple[Course, int]]:
    """The admin list: courses with their lesson counts (two queries whatever the size)."""
    lesson_count = (
        select(Lesson.course_id, func.count(Lesson.id).label("n")).group_by(Lesson.course_id).subquery("counts")
    )
    stmt = (
        select(Course, func.coalesce(lesson_count.c.n, 0))
        .outerjoin(lesson_count, lesson_count.c.course_id == Course.id)
        .options(joinedload(Course.category))
        .order_by(Course.year.desc(), Course.id.desc())
    )
    if category_id:
        stmt = stmt.where(Course.category_id == category_id)
    if published is not None:
        stmt = stmt.where(Course.published.is_(published))
    query = strip_invisible(query).strip()  # PostgreSQL refuses NUL even in a parameter
    if query:
        stmt = stmt.where(Course.title.contains(query, autoescape=True))
    return [(course, int(n)) for course, n in db.session.execute(stmt).unique()]


# ---------------------------------------------------------------- lessons


def get_lesson(lesson_id: int) -> Lesson:
    return get_or_404(Lesson, lesson_id, "课时不存在。")


def ready_assets() -> list[MediaAsset]:
    """What a lesson may play: ready assets, newest first."""
    stmt = select(MediaAsset).where(MediaAsset.status == AssetStatus.ready, MediaAsset.output_dir.is_not(None))
    return list(db.session.scalars(stmt.order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc())))


def _ready_asset(asset_id: Any) -> MediaAsset:
    if not asset_id:
        raise DomainError("请选择一个可播放的媒体。", "asset_empty", "asset_id")
    asset = get_or_404(MediaAsset, asset_id, "媒体不存在或已被删除。")
    if not asset.is_ready:
        raise DomainError(
            f"媒体“{asset.title}”尚未可播放（{asset.status.label}），不能用作课时。请等转码完成后再选。",
            "asset_not_ready",
            "asset_id",
        )
    return asset


def _refresh_credit(course: Course, before: list[float]) -> None:
    """Keep an automatic 学时 in step with the lessons; a value the admin typed stays."""
    if math.isclose(course.credit_hours or 0.0, auto_credit_hours(before)):
        course.credit_hours = auto_credit_hours(_durations(course))


def add_lesson(actor: Any, course_id: int, title: Any, asset_id: Any) -> Lesson:
    require(actor, MANAGE)
    course = get_course(course_id)
    title = clean_line(title, "title", "课时名称", 200)
    asset = _ready_asset(asset_id)
    before = _durations(course)
    lesson = Lesson(title=title, asset=asset, duration=float(asset.duration or 0), position=len(before) + 1)
    course.lessons.append(lesson)
    db.session.flush()
    _refresh_credit(course, before)
    db.session.flush()
    return lesson


def update_lesson(actor: Any, lesson_id: int, title: Any, asset_id: Any) -> Lesson:
    require(actor, MANAGE)
    lesson = get_lesson(lesson_id)
    title = clean_line(title, "title", "课时名称", 200)
    asset = _ready_asset(asset_id)
    before = _durations(lesson.course)
    lesson.title, lesson.asset, lesson.duration = title, asset, float(asset.duration or 0)
    db.session.flush()
    _refresh_credit(lesson.course, before)
    db.session.flush()
    return lesson


def delete_lesson(actor: Any, lesson_id: int) -> str:
    """Delete a lesson nobody has played; a published course keeps at least one lesson."""
    from dangxiao.school import files

    require(actor, MANAGE)
    lesson = get_lesson(lesson_id)
    course = lesson.course
    if db.session.scalar(select(exists().where(LessonProgress.lesson_id == lesson.id))):
        raise DomainError(
            f"已有学员学习过课时“{lesson.title}”，不能删除。如需更换内容，请编辑课时改选媒体。", "lesson_has_progress"
        )
    if course.published and len(course.lessons) == 1:
        raise DomainError("已发布的课程至少要保留一个课时；请先取消发布再删除。", "course_needs_lesson")
    before = _durations(course)
    paths = [a.stored_path for a in lesson.attachments]
    title = lesson.title
    course.lessons.remove(lesson)
    db.session.delete(lesson)
    db.session.flush()
    renumber(list(course.lessons))
    _refresh_credit(course, before)
    db.session.flush()
    after_commit(partial(files.remove_files, paths))
    return title


def move_lesson(actor: Any, lesson_id: int, direction: str) -> Lesson:
    """One place up or down; the course's positions become 1..n in the same transaction."""
    require(actor, MANAGE)
    lesson = get_lesson(lesson_id)
    lessons = sorted(lesson.course.lessons, key=lambda item: (item.position, item.id))
    swap(lessons, lesson, direction)
    lesson.course.lessons.sort(key=lambda item: item.position)
    return lesson
