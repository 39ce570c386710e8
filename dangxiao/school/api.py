"""The player API (part of the contract; documented in the README, used by static/js/watch.js).

```
GET  /api/school/courses                  [{"id","title","category","required","credit_hours",
                                            "lessons":[{"id","title","duration"}]}]
POST /api/school/lessons/<id>/watch       → 201 {"session","duration","played","complete","resume_at"}
POST /api/school/watch/<session>          {"intervals": [[from, to], …], "rate": r, "position": s}
                                          → 200 {"played","counted","complete"}
GET  /api/school/lessons/<id>/progress    → {"duration","played","complete"}
```
The rules live in ``watch``; these views only translate JSON. Reports are rate limited per
member (``SCHOOL_REPORT_RATE_LIMIT``, 30/minute: an honest player sends about 4): the budget
already makes extra reports worthless, the limit keeps them cheap.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy.orm import joinedload, lazyload, selectinload

from dangxiao.access import LOGIN
from dangxiao.errors import DomainError
from dangxiao.extensions import db, limiter
from dangxiao.queries import MAX_ID
from dangxiao.school import visibility, watch
from dangxiao.school.models import Course, Lesson
from dangxiao.transactions import atomic

bp = Blueprint("school_api", __name__, url_prefix="/api/school")
BLUEPRINTS = [
    (bp, {"courses": LOGIN, "start_watch": LOGIN, "report": LOGIN, "lesson_progress": LOGIN}),
]


def _report_limit() -> str:
    return current_app.config.get("SCHOOL_REPORT_RATE_LIMIT", "30 per minute")


def _member_key() -> str:
    return f"school-report:{getattr(current_user, 'id', None) or request.remote_addr}"


def _lesson(lesson_id: int) -> Lesson | None:
    """The lesson or None (the watch service answers None as the same 404 as a hidden lesson)."""
    return db.session.get(Lesson, lesson_id) if 0 < lesson_id <= MAX_ID else None


@bp.get("/courses")
def courses():
    stmt = (
        visibility.visible_courses_stmt(current_user)
        .where(Course.published.is_(True))
        .options(joinedload(Course.category), selectinload(Course.lessons).options(lazyload(Lesson.asset)))
        .order_by(Course.required.desc(), Course.year.desc(), Course.id)
    )
    rows = db.session.scalars(stmt).unique()
    return jsonify(
        [
            {
                "id": c.id,
                "title": c.title,
                "category": c.category.name if c.category else None,
                "required": bool(c.required),
                "credit_hours": float(c.credit_hours or 0),
                "lessons": [{"id": x.id, "title": x.title, "duration": round(float(x.duration), 3)} for x in c.lessons],
            }
            for c in rows
        ]
    )


@bp.post("/lessons/<int:lesson_id>/watch")
def start_watch(lesson_id: int):
    client = request.headers.get("User-Agent", "")[:200]
    with atomic():
        started = watch.start_session(current_user, _lesson(lesson_id), client=client)
    return jsonify(started), 201


@bp.post("/watch/<session>")
@limiter.limit(_report_limit, key_func=_member_key)
def report(session: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise DomainError("请求内容必须是 JSON 对象。", "body_invalid")
    with atomic():
        result = watch.report(current_user, session, body.get("intervals"), body.get("rate"), body.get("position"))
    return jsonify(result)


@bp.get("/lessons/<int:lesson_id>/progress")
def lesson_progress(lesson_id: int):
    return jsonify(watch.progress(current_user, _lesson(lesson_id)))
