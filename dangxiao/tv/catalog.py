"""What a receiving station may watch: the ONE service every feed, page and media URL reads.

Pure data (frozen dataclasses, no URLs, no request): the formats decide how to show it.
A station sees the published courses that have at least one lesson whose asset is ready
and that are open to all or assigned to its branch or any branch above it (the school's
``chain_query``, so stations and members of a branch agree). Only ready lessons are listed.

The catalogue of a branch is built with five queries and kept in the process per
(version, branch): a feed request costs one version read until something changes
(``changes``); the version is read BEFORE the content, so a cached catalogue is never older
than the version it is filed under. Building is serialised per process, so thirty boxes
polling at once after a change cause one build, not thirty.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select

from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.markup import plain_text
from dangxiao.school.models import Category, Course, CourseAssignment, Lesson
from dangxiao.school.visibility import chain_query
from dangxiao.tv.changes import EPOCH, current_version
from dangxiao.tv.models import Tombstone
from media.models import AssetStatus, MediaAsset

MAX_PAGE = 100_000
FUTURE_SLACK = timedelta(minutes=5)
_CACHE_KEY = "tv.catalog"
_CACHE_BRANCHES = 512  # catalogues kept per process (one per branch that has stations)


@dataclass(frozen=True)
class TvLesson:
    id: int
    course_id: int
    position: int
    title: str
    duration: float
    updated_at: datetime


@dataclass(frozen=True)
class TvCourse:
    id: int
    title: str
    summary: str  # plain text
    teacher: str
    category_id: int | None
    required: bool  # assigned to the station's branch or a branch above it
    credit_hours: float
    has_cover: bool
    updated_at: datetime  # max of the course, its lessons, its assignments in the chain, its tombstones
    lessons: tuple[TvLesson, ...]


@dataclass(frozen=True)
class TvCategory:
    id: int
    parent_id: int | None
    name: str
    position: int


@dataclass(frozen=True)
class TvTombstone:
    kind: str  # "course" | "lesson"
    id: int
    course_id: int
    removed_at: datetime


@dataclass(frozen=True)
class Catalog:
    version: int
    changed_at: datetime
    categories: tuple[TvCategory, ...]  # the ones holding visible courses (or above one), by position
    courses: tuple[TvCourse, ...]  # newest updated first, then id
    by_id: dict[int, TvCourse]
    lessons: dict[int, TvLesson] = field(default_factory=dict)  # every listed lesson by id


@dataclass
class Page:
    items: list
    page: int
    pages: int
    total: int
    limit: int


# ---------------------------------------------------------------- the catalogue


def catalog_for(device: Any, state: tuple[int, datetime] | None = None) -> Catalog:
    """The station's catalogue at the current version (`state`: a (version, changed_at) the
    caller just read with ``current_version()``, to save the second read)."""
    version, changed_at = state or current_version()
    branch_id = int(device.branch_id)
    cache = current_app.extensions.get(_CACHE_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(_CACHE_KEY, {"lock": threading.Lock(), "entries": OrderedDict()})
    key = (version, branch_id)
    found = cache["entries"].get(key)
    if found is not None:
        return found
    with cache["lock"]:
        entries: OrderedDict = cache["entries"]
        found = entries.get(key)
        if found is not None:
            return found
        built = _build(branch_id, version, changed_at)
        for old in [k for k in entries if k[0] < version]:  # an older version is never asked for again
            del entries[old]
        entries[key] = built
        while len(entries) > _CACHE_BRANCHES:
            entries.popitem(last=False)
        return built


def _ready():
    return (MediaAsset.status == AssetStatus.ready) & MediaAsset.output_dir.isnot(None)


def _build(branch_id: int, version: int, changed_at: datetime) -> Catalog:
    chain = list(db.session.scalars(chain_query(SimpleNamespace(branch_id=branch_id))))
    assigned = dict(
        db.session.execute(
            select(CourseAssignment.course_id, func.max(CourseAssignment.created_at))
            .where(CourseAssignment.branch_id.in_(chain))
            .group_by(CourseAssignment.course_id)
        ).all()
    )
    has_ready_lesson = (
        select(Lesson.id)
        .join(MediaAsset, MediaAsset.id == Lesson.asset_id)
        .where(Lesson.course_id == Course.id, _ready())
    ).exists()
    course_rows = db.session.execute(
        select(
            Course.id,
            Course.title,
            Course.summary_html,
            Course.teacher,
            Course.category_id,
            Course.credit_hours,
            Course.cover_path,
            Course.updated_at,
        ).where(
            Course.published.is_(True),
            or_(Course.open_to_all.is_(True), Course.id.in_(list(assigned))),
            has_ready_lesson,
        )
    ).all()
    ids = [row.id for row in course_rows]
    lessons: dict[int, list[TvLesson]] = {course_id: [] for course_id in ids}
    lesson_rows = db.session.execute(
        select(
            Lesson.id,
            Lesson.course_id,
            Lesson.position,
            Lesson.title,
            Lesson.duration,
            Lesson.updated_at,
            MediaAsset.ready_at,
        )
        .join(MediaAsset, MediaAsset.id == Lesson.asset_id)
        .where(Lesson.course_id.in_(ids), _ready())
        .order_by(Lesson.course_id, Lesson.position, Lesson.id)
    ).all()
    for row in lesson_rows:
        updated = max(aware(row.updated_at) or EPOCH, aware(row.ready_at) or EPOCH)
        lessons[row.course_id].append(
            TvLesson(row.id, row.course_id, row.position, row.title, float(row.duration or 0), updated)
        )
    removed = dict(
        db.session.execute(
            select(Tombstone.course_id, func.max(Tombstone.removed_at))
            .where(Tombstone.course_id.in_(ids))
            .group_by(Tombstone.course_id)
        ).all()
    )
    courses = []
    for row in course_rows:
        own = lessons[row.id]
        stamps = [aware(row.updated_at) or EPOCH, *(lesson.updated_at for lesson in own)]
        stamps += [aware(stamp) for stamp in (assigned.get(row.id), removed.get(row.id)) if stamp is not None]
        courses.append(
            TvCourse(
                id=row.id,
                title=row.title,
                summary=plain_text(row.summary_html or ""),
                teacher=row.teacher or "",
                category_id=row.category_id,
                required=row.id in assigned,
                credit_hours=float(row.credit_hours or 0),
                has_cover=bool(row.cover_path),
                updated_at=max(stamps),
                lessons=tuple(own),
            )
        )
    courses.sort(key=lambda course: (-course.updated_at.timestamp(), course.id))
    return Catalog(
        version=version,
        changed_at=changed_at,
        categories=_categories({course.category_id for course in courses} - {None}),
        courses=tuple(courses),
        by_id={course.id: course for course in courses},
        lessons={lesson.id: lesson for course in courses for lesson in course.lessons},
    )


def _categories(used: set[int]) -> tuple[TvCategory, ...]:
    """The categories holding a visible course, and every category above one (a box's tree)."""
    rows = db.session.execute(select(Category.id, Category.parent_id, Category.name, Category.position)).all()
    by_id = {row.id: row for row in rows}
    keep: set[int] = set()
    for category_id in used:
        while category_id is not None and category_id not in keep and category_id in by_id:
            keep.add(category_id)
            category_id = by_id[category_id].parent_id
    chosen = [TvCategory(row.id, row.parent_id, row.name, row.position) for row in rows if row.id in keep]
    chosen.sort(key=lambda c: (c.parent_id or 0, c.position, c.id))
    return tuple(chosen)


def in_category(catalog: Catalog, category_id: int | None) -> list[TvCourse]:
    """The catalogue's courses in `category_id` or any category below it (None: all of them)."""
    if category_id is None:
        return list(catalog.courses)
    wanted = {category_id}
    grew = True
    while grew:
        more = {c.id for c in catalog.categories if c.parent_id in wanted} - wanted
        wanted |= more
        grew = bool(more)
    return [course for course in catalog.courses if course.category_id in wanted]


def course_for_device(device: Any, course_id: int) -> TvCourse:
    """The course as the station sees it, or a 404 (another branch's member-only course, too)."""
    course = catalog_for(device).by_id.get(course_id)
    if course is None:
        raise NotFound("课程不存在或本站点无权观看。", "course_not_found")
    return course


def lesson_for_device(device: Any, lesson_id: int) -> Lesson:
    """The lesson row, if the station may watch it now; else a 404 that says nothing more."""
    if lesson_id not in catalog_for(device).lessons:
        raise NotFound("课时不存在或本站点无权观看。", "lesson_not_found")
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None or lesson.asset is None or not lesson.asset.is_ready:  # changed since the version read
        raise NotFound("课时不存在或本站点无权观看。", "lesson_not_found")
    return lesson


# ---------------------------------------------------------------- paging and delta sync


def _int(raw: Any) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    text = str(raw).strip()
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        return None
    return int(text)


def parse_page(raw: Any) -> int:
    """`page=` (default 1): a whole number from 1 to 100000."""
    if raw is None or str(raw).strip() == "":
        return 1
    page = _int(raw)
    if page is None or not 1 <= page <= MAX_PAGE:
        raise DomainError(f"页码应为 1 至 {MAX_PAGE} 之间的整数。", "page_invalid", "page")
    return page


def parse_limit(raw: Any) -> int:
    """`limit=` (default TV_PAGE_SIZE): a whole number from 1 to TV_PAGE_MAX."""
    if raw is None or str(raw).strip() == "":
        return int(current_app.config["TV_PAGE_SIZE"])
    most = int(current_app.config["TV_PAGE_MAX"])
    limit = _int(raw)
    if limit is None or not 1 <= limit <= most:
        raise DomainError(f"每页数量应为 1 至 {most} 之间的整数。", "limit_invalid", "limit")
    return limit


def parse_since(raw: Any, now: datetime | None = None) -> datetime | None:
    """`updated_since=`: ISO 8601 (naive = UTC) or Unix seconds; empty = everything."""
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    invalid = DomainError("updated_since 应为 ISO 8601 时间或 Unix 秒数。", "updated_since_invalid", "updated_since")
    try:
        if re.fullmatch(r"\d{1,12}(\.\d{1,9})?", text):
            since = datetime.fromtimestamp(float(text), UTC)
        else:
            since = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
            since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise invalid from None
    if since > (now or utcnow()) + FUTURE_SLACK:
        raise DomainError("updated_since 不能晚于当前时间。", "updated_since_future", "updated_since")
    return since


def paginate(items: list, page: int, limit: int) -> Page:
    """One page of `items`; a page past the end is empty (boxes page until they get nothing)."""
    total = len(items)
    pages = max(1, math.ceil(total / limit))
    start = (page - 1) * limit
    return Page(items=list(items[start : start + limit]), page=page, pages=pages, total=total, limit=limit)


def delta(device: Any, catalog: Catalog, since: datetime | None) -> tuple[list[TvCourse], list[TvTombstone], bool]:
    """(courses updated after `since`, tombstones since then for what the station does not see
    now, full). `full` is True — every course, no tombstones: replace your list — when `since`
    is None or older than the tombstones are kept (TV_TOMBSTONE_DAYS)."""
    days = int(current_app.config["TV_TOMBSTONE_DAYS"])
    if since is None or since < utcnow() - timedelta(days=days):
        return list(catalog.courses), [], True
    # Writers' clocks and commit order differ (a transaction stamped earlier may commit after a
    # box's sync): look back a little. A box gets a recently changed course twice, never misses one.
    since = since - timedelta(seconds=float(current_app.config.get("TV_DELTA_OVERLAP_SECONDS", 60)))
    courses = [course for course in catalog.courses if course.updated_at > since]
    rows = db.session.execute(
        select(Tombstone.kind, Tombstone.ref_id, Tombstone.course_id, Tombstone.removed_at)
        .where(Tombstone.removed_at > since)
        .order_by(Tombstone.removed_at, Tombstone.id)
    ).all()
    latest: dict[tuple[str, int], TvTombstone] = {}
    for kind, ref_id, course_id, removed_at in rows:
        if kind == "course":
            gone = ref_id not in catalog.by_id
        else:
            gone = ref_id not in catalog.lessons
            if gone and course_id not in catalog.by_id:  # the course went with its last lesson
                latest[("course", course_id)] = TvTombstone("course", course_id, course_id, aware(removed_at))
        if gone:
            latest[(kind, ref_id)] = TvTombstone(kind, ref_id, course_id, aware(removed_at))
    return courses, sorted(latest.values(), key=lambda t: (t.removed_at, t.kind, t.id)), False


def check_category(catalog: Catalog, raw: Any) -> int | None:
    """`category=` (empty = all): the id of a category this station's catalogue has, else 404."""
    if raw is None or str(raw).strip() == "":
        return None
    category_id = _int(raw)
    if category_id is None or category_id not in {c.id for c in catalog.categories}:
        raise NotFound("分类不存在。", "category_not_found")
    return category_id
