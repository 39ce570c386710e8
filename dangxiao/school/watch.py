"""Watch sessions and progress: credit that cannot be gamed (the rules over ``intervals``).

- **Sessions.** Playback starts with :func:`start_session`, which issues a random token and
  makes it the member's one live session: the progress row's ``current_session_id`` moves to
  it with one conditional UPDATE (only ever forward, to a newer session), and every older
  session of the member — on this lesson or any other — is marked superseded. A report on a
  session that is not the member's newest is refused (409 ``session_superseded``), so two tabs,
  two devices or ten lessons played at once by a script count as one playback.
- **Budget.** A report may add at most the wall-clock seconds since the session's budget clock
  (``last_report_at``) × the maximum rate (``SCHOOL_MAX_PLAYBACK_RATE``, 2.0). After a report
  the clock moves forward by what was spent (credited / max rate) but never less than to
  ``now - grace / max rate``: up to ``SCHOOL_WATCH_GRACE_SECONDS`` (6 s) of unspent budget
  carries to the next report, so a report delayed by the network and the next one arriving
  early lose nothing, while a burst of reports can never spend more than the wall clock gave.
- **Coverage.** Credit is the union of played intervals (``intervals.credit``): a seek plays
  nothing, a replayed part earns nothing again. Complete at ≥ 95 % of the duration; the first
  completion calls ``credits.lesson_completed`` in the same transaction.
- **Concurrency.** The first write of a report is ``UPDATE watch_sessions SET reports =
  reports + 1 WHERE id = ? AND reports = ? AND superseded_at IS NULL``: two reports racing on
  one session cannot both spend the budget they both read (the loser re-reads and retries).
  The progress row is then read ``FOR UPDATE`` (PostgreSQL; SQLite serialises writers).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import exists, or_, select, update

from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError, Forbidden, NotFound
from dangxiao.extensions import db
from dangxiao.policy import can
from dangxiao.queries import insert_ignore, owned_by_token
from dangxiao.school import intervals as iv
from dangxiao.school.models import Enrollment, Lesson, LessonProgress, WatchSession

COMPLETE_SHARE = 0.95  # of the duration covered → complete
RESUME_TAIL = 10.0  # seconds: a position this close to the end resumes at the start
DEFAULT_MAX_RATE = 2.0
DEFAULT_GRACE = 6.0  # seconds of unspent budget carried from one report to the next
CLAIM_ATTEMPTS = 3


class SessionSuperseded(DomainError):
    code = "session_superseded"
    status = 409


def max_rate() -> float:
    return float(current_app.config.get("SCHOOL_MAX_PLAYBACK_RATE", DEFAULT_MAX_RATE))


def grace_seconds() -> float:
    return float(current_app.config.get("SCHOOL_WATCH_GRACE_SECONDS", DEFAULT_GRACE))


def check_watchable(actor: Any, lesson: Lesson | None) -> Lesson:
    """The lesson if `actor` may play it: a course they cannot see is a 404, an asset not ready a 403."""
    if lesson is not None and can(actor, "school.watch_lesson", lesson):
        return lesson  # the common path: one visibility query
    if lesson is None or not can(actor, "school.view_course", lesson.course):
        raise NotFound("课时不存在或您无权观看。", "lesson_not_found")
    raise Forbidden("该课时的视频尚未就绪，暂不能播放。", "lesson_not_ready")


def _progress_row(user_id: int, lesson_id: int, *, lock: bool = False) -> LessonProgress | None:
    stmt = select(LessonProgress).where(LessonProgress.user_id == user_id, LessonProgress.lesson_id == lesson_id)
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalars(stmt.execution_options(populate_existing=True)).first()


def resume_at(progress: LessonProgress | None, duration: float) -> float:
    """Where the player should start: the last position, or 0 when complete or near the end."""
    if progress is None or progress.complete:
        return 0.0
    position = float(progress.position or 0.0)
    return position if 0.0 < position < duration - RESUME_TAIL else 0.0


def _state(progress: LessonProgress | None, duration: float) -> dict[str, Any]:
    return {
        "duration": round(float(duration), 3),
        "played": round(float(progress.played), 3) if progress else 0.0,
        "complete": bool(progress.complete) if progress else False,
    }


def start_session(actor: Any, lesson: Lesson, client: str | None = None, now: datetime | None = None) -> dict:
    """Start (or take over) playback of `lesson`: a new session that supersedes the member's others.

    An open elective the member has not enrolled in is enrolled now (playing is choosing it).
    """
    check_watchable(actor, lesson)
    now = now or utcnow()
    course = lesson.course
    if course.open_to_all and not course.required:
        db.session.execute(insert_ignore(Enrollment).values(user_id=actor.id, course_id=course.id, created_at=now))
    session = WatchSession(
        token=secrets.token_urlsafe(32),
        user_id=actor.id,
        lesson_id=lesson.id,
        started_at=now,
        last_report_at=now,
        client=(client or "")[:200] or None,
    )
    db.session.add(session)
    db.session.flush()
    stmt = insert_ignore(LessonProgress).values(
        user_id=actor.id,
        lesson_id=lesson.id,
        intervals=[],
        played=0.0,
        position=0.0,
        complete=False,
        current_session_id=session.id,
        created_at=now,
        updated_at=now,
    )
    db.session.execute(stmt)
    # Only ever forward: of two starts racing, the newer session wins on every row.
    db.session.execute(
        update(LessonProgress)
        .where(
            LessonProgress.user_id == actor.id,
            LessonProgress.lesson_id == lesson.id,
            or_(LessonProgress.current_session_id.is_(None), LessonProgress.current_session_id < session.id),
        )
        .values(current_session_id=session.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(WatchSession)
        .where(WatchSession.user_id == actor.id, WatchSession.superseded_at.is_(None), WatchSession.id < session.id)
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )
    progress = _progress_row(actor.id, lesson.id)
    state = _state(progress, lesson.duration)
    return {"session": session.token, **state, "resume_at": round(resume_at(progress, lesson.duration), 3)}


def _session_for(actor: Any, token: Any) -> WatchSession:
    """The actor's session named by `token`; anyone else's (or none) is the same 404."""
    message = "播放会话不存在或已失效，请重新播放。"
    return owned_by_token(WatchSession, token, "user_id", getattr(actor, "id", None), message, "session_not_found")


def _require_current(session: WatchSession) -> None:
    newer = db.session.scalar(
        select(exists().where(WatchSession.user_id == session.user_id, WatchSession.id > session.id))
    )
    if session.superseded_at is not None or newer:
        raise SessionSuperseded("已在其他窗口或设备继续播放，本窗口的学习进度不再记录。")


def _rate(value: Any) -> float:
    rate = iv.finite_number(value)
    top = max_rate()
    if rate is None or not 0 < rate <= top + 1e-9:
        raise DomainError(f"播放速度无效：允许的最高倍速为 {top:g} 倍。", "rate_invalid", "rate")
    return rate


def _position(value: Any, duration: float) -> float:
    position = iv.finite_number(value)
    if position is None or not 0 <= position <= duration + iv.TOLERANCE:
        raise DomainError("播放位置无效。", "position_invalid", "position")
    return min(position, duration)


def report(
    actor: Any, token: Any, intervals: Any, rate: Any, position: Any, now: datetime | None = None
) -> dict[str, Any]:
    """Credit one progress report on session `token`: {"played", "counted", "complete"}."""
    session = _session_for(actor, token)
    lesson = db.session.get(Lesson, session.lesson_id)
    check_watchable(actor, lesson)
    duration = float(lesson.duration)
    try:
        played = iv.validate(intervals, duration)
    except iv.IntervalError as error:
        raise DomainError(error.message, error.code, "intervals") from None
    _rate(rate)
    where = _position(position, duration)
    now = now or utcnow()
    top = max_rate()
    for _attempt in range(CLAIM_ATTEMPTS):
        _require_current(session)
        claimed = db.session.execute(
            update(WatchSession)
            .where(
                WatchSession.id == session.id,
                WatchSession.reports == session.reports,
                WatchSession.superseded_at.is_(None),
            )
            .values(reports=WatchSession.reports + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed:
            break
        session = _session_for(actor, token)  # another report won: re-read its clock and retry
    else:
        raise DomainError("进度报告冲突，请稍后重试。", "report_conflict")
    clock = aware(session.last_report_at)
    budget = max(0.0, (now - clock).total_seconds()) * top
    progress = _progress_row(actor.id, lesson.id, lock=True)
    if progress is None:  # started before a migration or the row was removed: recreate it
        progress = LessonProgress(user_id=actor.id, lesson_id=lesson.id, intervals=[], created_at=now)
        db.session.add(progress)
    union, counted = iv.credit(progress.intervals or [], played, budget)
    spent_until = clock + timedelta(seconds=counted / top)
    session.last_report_at = max(spent_until, now - timedelta(seconds=grace_seconds() / top))
    session.reports = (session.reports or 0) + 1
    session.credited = round(float(session.credited or 0.0) + counted, 3)
    if counted:
        progress.intervals = [list(pair) for pair in union]
        progress.played = round(min(iv.measure(union), duration), 3)
    progress.position = round(where, 3)
    progress.current_session_id = progress.current_session_id or session.id
    progress.updated_at = now
    first_completion = not progress.complete and duration > 0 and progress.played >= COMPLETE_SHARE * duration
    if first_completion:
        progress.complete = True
        progress.completed_at = now
    db.session.flush()
    if first_completion:
        from dangxiao.school import credits

        credits.lesson_completed(actor.id, lesson)
    return {"played": round(float(progress.played), 3), "counted": counted, "complete": bool(progress.complete)}


def progress(actor: Any, lesson: Lesson | None) -> dict[str, Any]:
    """{"duration", "played", "complete"} of the actor on a lesson of a course they may see."""
    if lesson is None or not can(actor, "school.view_course", lesson.course):
        raise NotFound("课时不存在或您无权观看。", "lesson_not_found")
    return _state(_progress_row(actor.id, lesson.id), lesson.duration)


def progress_map(user_id: int, lesson_ids: list[int]) -> dict[int, LessonProgress]:
    """lesson id → the member's progress row (one query; lessons never started are absent)."""
    if not lesson_ids:
        return {}
    rows = db.session.scalars(
        select(LessonProgress).where(LessonProgress.user_id == user_id, LessonProgress.lesson_id.in_(lesson_ids))
    )
    return {row.lesson_id: row for row in rows}


def resume_point(user_id: int, course_id: int) -> tuple[int, float] | None:
    """继续学习: (lesson id, position) — the lesson last watched in the course at its position,
    or, when that one is complete, the next unfinished lesson (at its own position, else 0).
    None when the member has not started the course or has finished every lesson."""
    lessons = db.session.execute(
        select(Lesson.id, Lesson.duration).where(Lesson.course_id == course_id).order_by(Lesson.position, Lesson.id)
    ).all()
    rows = progress_map(user_id, [lesson_id for lesson_id, _ in lessons])
    if not rows:
        return None
    last = max(rows.values(), key=lambda row: (aware(row.updated_at), row.id))
    order = [lesson_id for lesson_id, _ in lessons]
    durations = dict(lessons)
    if not last.complete:
        return last.lesson_id, resume_at(last, durations[last.lesson_id])
    start = order.index(last.lesson_id)
    for lesson_id in order[start + 1 :] + order[:start]:
        row = rows.get(lesson_id)
        if row is None or not row.complete:
            return lesson_id, resume_at(row, durations[lesson_id])
    return None
