"""The 10-foot pages a receiving station's box opens at ``/tv/``: course rows, lesson list, player.

A box has a remote control, not a mouse, and an old browser: pages are server-rendered,
light and driven by static/js/tv.js (ES5, arrow keys, OK, Back). They show exactly what the
feeds show (``catalog.catalog_for``), so a course missing from the feeds is a 404 here too.
Every link is built so that it carries the station's key: under ``/tv/k/<key>/`` ``url_for``
already keeps the prefix; a page opened with ``?key=`` or the header links to the prefixed
absolute URL (``devices.device_url``), because a ``<video>`` or a followed link sends no header.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, url_for
from sqlalchemy import select

from dangxiao.access import DEVICE, current_device
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.tv import catalog as tv_catalog
from dangxiao.tv import devices, plays
from dangxiao.tv.models import Play
from dangxiao.tv.prefix import prefixed_key

bp = Blueprint("tv_ui", __name__, url_prefix="/tv")
BLUEPRINTS = [(bp, {"index": DEVICE, "course": DEVICE, "lesson": DEVICE}, True)]

OTHER_ROW = "其他课程"


@dataclass(frozen=True)
class Row:
    """One horizontal row of course cards on the start page."""

    title: str
    courses: tuple
    has_required: bool
    order: tuple


def link(endpoint: str, **values) -> str:
    """A URL of `endpoint` that carries this request's key however the key came in."""
    if prefixed_key() is not None:
        return url_for(endpoint, **values)
    return devices.device_url(endpoint, **values)


def clock(seconds: float | None) -> str:
    """45:10 or 1:02:03, as a remote-control user reads times."""
    total = max(0, int(seconds or 0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def course_rows(catalog) -> list[Row]:
    """One row per category; rows holding required (必修) courses first, required cards first in a row."""
    categories = {category.id: category for category in catalog.categories}
    groups: dict[int | None, list] = {}
    for course in catalog.courses:  # newest first: kept within each group
        key = course.category_id if course.category_id in categories else None
        groups.setdefault(key, []).append(course)
    rows = []
    for category_id, courses in groups.items():
        ordered = tuple(sorted(courses, key=lambda c: not c.required))  # stable sort keeps newest first
        has_required = ordered[0].required
        if category_id is None:
            title, order = OTHER_ROW, (1, 0, "")
        else:
            category = categories[category_id]
            parent = categories.get(category.parent_id) if category.parent_id else None
            title = f"{parent.name} · {category.name}" if parent else category.name
            order = (0, category.position, title)
        rows.append(Row(title=title, courses=ordered, has_required=has_required, order=order))
    rows.sort(key=lambda row: (not row.has_required, row.order))
    return rows


def _device():
    device = current_device()
    if device is None:  # the access table already refused the request; be explicit anyway
        raise NotFound("需要有效的设备密钥。")
    return device


def _last_played(device, lesson_ids: list[int]) -> int | None:
    """The lesson of this course the station played last (its resume mark), if any."""
    if not lesson_ids:
        return None
    return db.session.scalar(
        select(Play.lesson_id)
        .where(Play.device_id == device.id, Play.lesson_id.in_(lesson_ids))
        .order_by(Play.started_at.desc(), Play.id.desc())
        .limit(1)
    )


def _resume(device, lesson_id: int) -> float:
    """Where the box starts the lesson: the station's last position (0 near the end, see plays)."""
    return max(0.0, float(plays.resume_at(device, lesson_id) or 0.0))


def _key_for_header() -> str:
    """The key for the X-Device-Key header of play reports, when it did not come in the path."""
    if prefixed_key() is not None:
        return ""
    return devices.request_key() or ""


def _render(template: str, **context):
    return render_template(template, link=link, clock=clock, header_key=_key_for_header(), **context)


@bp.errorhandler(DomainError)
def tv_error(error: DomainError):
    """Errors in the station's own look, with the way back (the site's header means nothing on a box)."""
    return _render("tv/error.html", message=error.message, status=error.status), error.status


@bp.get("/")
def index():
    device = _device()
    return _render("tv/index.html", device=device, rows=course_rows(tv_catalog.catalog_for(device)))


@bp.get("/course/<int:course_id>")
def course(course_id: int):
    device = _device()
    tv_course = tv_catalog.course_for_device(device, course_id)  # 404 when the station does not see it
    lessons = tv_course.lessons
    last = _last_played(device, [lesson.id for lesson in lessons])
    resume = (last, _resume(device, last)) if last is not None else None
    return _render("tv/course.html", device=device, course=tv_course, lessons=lessons, resume=resume)


@bp.get("/lesson/<int:lesson_id>")
def lesson(lesson_id: int):
    device = _device()
    row = tv_catalog.lesson_for_device(device, lesson_id)  # 404 when the station may not watch it
    tv_course = tv_catalog.course_for_device(device, row.course_id)
    lessons = tv_course.lessons
    index_of = next((i for i, item in enumerate(lessons) if item.id == row.id), None)
    if index_of is None:  # the catalogue moved on between the two reads
        raise NotFound("课时不存在或本站点无权观看。", "lesson_not_found")
    current = lessons[index_of]
    following = lessons[index_of + 1] if index_of + 1 < len(lessons) else None
    return _render(
        "tv/lesson.html",
        device=device,
        course=tv_course,
        lesson=current,
        following=following,
        resume=_resume(device, current.id),
    )
