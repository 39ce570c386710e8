"""A member's learning records as xAPI (Experience API 1.0.3) statements.

Built straight from the tables: watch sessions (initialized), progress (played, and
completed for a finished lesson), course completions (completed) and passed quiz attempts
(passed, with a scaled score). Statement ids are name-based UUIDs, so exporting twice gives
the same ids and an LRS can de-duplicate them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_request_context, request, url_for
from sqlalchemy import select

from dangxiao.extensions import db
from dangxiao.school.models import Course, CourseCompletion, Lesson, LessonProgress, WatchSession
from dangxiao.school.quiz_models import Quiz, QuizAttempt

VERBS = {
    "initialized": "开始学习",
    "played": "观看",
    "completed": "完成",
    "passed": "通过",
}
ACTIVITY_TYPES = {
    "lesson": "http://adlnet.gov/expapi/activities/lesson",
    "course": "http://adlnet.gov/expapi/activities/course",
    "quiz": "http://adlnet.gov/expapi/activities/assessment",
}
#: Candidate endpoints of the pages that show each activity (built in the same issue), then a path.
PAGES = {
    "lesson": (("school.lesson", "lesson_id"), "/school/lessons/{id}"),
    "course": (("school.course", "course_id"), "/school/courses/{id}"),
    "quiz": (("quiz.quiz", "quiz_id"), "/school/quizzes/{id}"),
}
LIMIT = 5000  # per kind: a member's export stays a reasonable download


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def home_page() -> str:
    return request.host_url.rstrip("/") if has_request_context() else "http://localhost"


def _activity_url(kind: str, ident: int) -> str:
    (endpoint, arg), pattern = PAGES[kind]
    if endpoint in current_app.view_functions:
        try:
            return url_for(endpoint, _external=True, **{arg: ident})
        except Exception:  # noqa: BLE001 — fall back to the documented path
            current_app.logger.warning("no URL for %s %s", endpoint, ident)
    return home_page() + pattern.format(id=ident)


def _activity(kind: str, ident: int, title: str) -> dict[str, Any]:
    return {
        "objectType": "Activity",
        "id": _activity_url(kind, ident),
        "definition": {"type": ACTIVITY_TYPES[kind], "name": {"zh-CN": title}},
    }


def _verb(name: str) -> dict[str, Any]:
    return {"id": f"http://adlnet.gov/expapi/verbs/{name}", "display": {"zh-CN": VERBS[name]}}


def statements(user: Any) -> list[dict[str, Any]]:
    """Every statement for `user`, oldest first."""
    home = home_page()
    actor = {"objectType": "Agent", "name": user.display_name, "account": {"homePage": home, "name": str(user.id)}}
    out: list[dict[str, Any]] = []

    def add(key: str, verb: str, obj: dict[str, Any], when: datetime | None, result: dict | None = None) -> None:
        statement = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{home}/xapi/{user.id}/{key}")),
            "actor": actor,
            "verb": _verb(verb),
            "object": obj,
            "timestamp": _iso(when),
        }
        if result:
            statement["result"] = result
        out.append(statement)

    sessions = db.session.execute(
        select(WatchSession.id, WatchSession.started_at, Lesson.id, Lesson.title)
        .join(Lesson, Lesson.id == WatchSession.lesson_id)
        .where(WatchSession.user_id == user.id)
        .order_by(WatchSession.id.desc())
        .limit(LIMIT)
    ).all()
    for session_id, started, lesson_id, title in sessions:
        add(f"session/{session_id}", "initialized", _activity("lesson", lesson_id, title), started)

    progress = db.session.execute(
        select(LessonProgress, Lesson.title, Lesson.duration)
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(LessonProgress.user_id == user.id)
        .limit(LIMIT)
    ).all()
    for p, title, duration in progress:
        lesson = _activity("lesson", p.lesson_id, title)
        extensions = {
            f"{home}/xapi/extensions/played-seconds": round(p.played, 1),
            "https://w3id.org/xapi/video/extensions/length": round(duration or 0.0, 1),
            "https://w3id.org/xapi/video/extensions/time": round(p.position, 1),
        }
        add(f"played/{p.id}", "played", lesson, p.updated_at, {"extensions": extensions})
        if p.complete:
            add(f"lesson-completed/{p.id}", "completed", lesson, p.completed_at or p.updated_at, {"completion": True})

    completions = db.session.execute(
        select(CourseCompletion.id, CourseCompletion.completed_at, Course.id, Course.title)
        .join(Course, Course.id == CourseCompletion.course_id)
        .where(CourseCompletion.user_id == user.id)
        .limit(LIMIT)
    ).all()
    for completion_id, when, course_id, title in completions:
        add(f"course/{completion_id}", "completed", _activity("course", course_id, title), when, {"completion": True})

    attempts = db.session.execute(
        select(QuizAttempt.id, QuizAttempt.submitted_at, QuizAttempt.score, Quiz.id, Quiz.title)
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(QuizAttempt.user_id == user.id, QuizAttempt.passed.is_(True), QuizAttempt.submitted_at.is_not(None))
        .limit(LIMIT)
    ).all()
    for attempt_id, when, score, quiz_id, title in attempts:
        raw = float(score or 0.0)
        result = {
            "score": {"scaled": round(raw / 100, 4), "raw": raw, "min": 0, "max": 100},
            "success": True,
            "completion": True,
        }
        add(f"attempt/{attempt_id}", "passed", _activity("quiz", quiz_id, title), when, result)

    out.sort(key=lambda s: s["timestamp"] or "")
    return out


def statement_result(user: Any) -> dict[str, Any]:
    """An xAPI StatementResult object: {"statements": [...], "more": ""}."""
    return {"statements": statements(user), "more": ""}
