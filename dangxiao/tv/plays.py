"""Play reports from receiving stations: what a box played, bounded like a member's progress.

A box starts a play (a random token) and then reports the total seconds watched in it and
where it is. The stored seconds are the least of what the box says, what the wall clock
since the start allows (× the school's maximum playback rate, plus its grace) and the
lesson's duration, and they never go down: a box reporting 10 hours for a 30-minute lesson
gets at most the time that really passed. The seconds are written with one conditional
UPDATE (``seconds = max(seconds, new)`` in SQL), so two reports racing cannot lower them.

A station cannot see or report another station's plays (the same 404 as a wrong token),
and may start at most ``TV_PLAYS_PER_HOUR`` plays an hour (counted from the table, by the
``(device_id, started_at)`` index: no counter to drift between processes).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import case, func, select, update

from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.queries import MAX_ID, owned_by_token
from dangxiao.school import watch
from dangxiao.school.intervals import finite_number
from dangxiao.school.models import Lesson
from dangxiao.tv.catalog import lesson_for_device
from dangxiao.tv.models import Device, Play

MAX_ATTENDEES = 500
DEFAULT_PLAYS_PER_HOUR = 120
RESUME_TAIL = watch.RESUME_TAIL  # a position this close to the end resumes at the start


class PlayRateLimited(DomainError):
    code = "play_rate_limited"
    status = 429


def plays_per_hour() -> int:
    return int(current_app.config.get("TV_PLAYS_PER_HOUR", DEFAULT_PLAYS_PER_HOUR))


def parse_lesson_id(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= MAX_ID:
        raise DomainError("请提供课时编号 lesson_id（正整数）。", "lesson_id_invalid", "lesson_id")
    return raw


def parse_attendees(raw: Any) -> int | None:
    """None (not said), else a whole number of people 0 … 500."""
    if raw is None:
        return None
    number = finite_number(raw)
    if number is None or number != int(number) or not 0 <= number <= MAX_ATTENDEES:
        raise DomainError(f"参学人数必须是 0 到 {MAX_ATTENDEES} 之间的整数。", "attendees_invalid", "attendees")
    return int(number)


def parse_seconds(raw: Any) -> float:
    number = finite_number(raw)
    if number is None or number < 0:
        raise DomainError("观看秒数 seconds 必须是不小于 0 的数字。", "seconds_invalid", "seconds")
    return number


def parse_position(raw: Any, duration: float) -> float:
    """Where the box is, clamped into the lesson (a box past the end resumes at the end)."""
    number = finite_number(raw)
    if number is None:
        raise DomainError("播放位置 position 必须是数字。", "position_invalid", "position")
    return min(max(number, 0.0), max(float(duration), 0.0))


def start_play(device: Device, lesson_id: Any, attendees: Any = None, now: datetime | None = None) -> Play:
    """Begin a play of a lesson the station may watch; refused past the hourly limit (429)."""
    lesson = lesson_for_device(device, parse_lesson_id(lesson_id))  # 404 unless the station sees it
    people = parse_attendees(attendees)
    now = now or utcnow()
    limit = plays_per_hour()
    recent = db.session.scalar(
        select(func.count())
        .select_from(Play)
        .where(Play.device_id == device.id, Play.started_at > now - timedelta(hours=1))
    )
    if recent >= limit:
        raise PlayRateLimited(f"本站点一小时内最多开始 {limit} 次播放，请稍后再试。")
    play = Play(
        token=secrets.token_urlsafe(32),
        device_id=device.id,
        lesson_id=lesson.id,
        started_at=now,
        reported_at=now,
        seconds=0.0,
        position=0.0,
        attendees=people,
    )
    db.session.add(play)
    db.session.flush()
    return play


def play_of(device: Device, token: Any) -> Play:
    """The station's play named by `token`; another station's (or none) is the same 404."""
    device_id = getattr(device, "id", None)
    return owned_by_token(Play, token, "device_id", device_id, "播放记录不存在，请重新开始播放。", "play_not_found")


def bound(play: Play, reported: float, duration: float, now: datetime) -> float:
    """The most seconds this play may hold now: the report, the wall clock's allowance, the duration."""
    elapsed = max(0.0, (now - aware(play.started_at)).total_seconds())
    allowance = elapsed * watch.max_rate() + watch.grace_seconds()
    return max(0.0, min(reported, allowance, float(duration)))


def report_play(
    device: Device, token: Any, seconds: Any, position: Any, attendees: Any = None, now: datetime | None = None
) -> Play:
    """Record a progress report; the play as stored, with ``play.capped`` True when the report was cut."""
    play = play_of(device, token)
    duration = float(db.session.scalar(select(Lesson.duration).where(Lesson.id == play.lesson_id)) or 0.0)
    reported = parse_seconds(seconds)
    where = parse_position(position, duration)
    people = parse_attendees(attendees)
    now = now or utcnow()
    allowed = round(bound(play, reported, duration, now), 3)
    capped = reported > allowed + 1e-3
    values: dict[str, Any] = {
        "seconds": case((Play.seconds < allowed, allowed), else_=Play.seconds),  # never decreases
        "position": round(where, 3),
        "reported_at": now,
    }
    if people is not None:
        values["attendees"] = people
    db.session.execute(
        update(Play).where(Play.id == play.id).values(**values).execution_options(synchronize_session=False)
    )
    play = db.session.scalars(select(Play).where(Play.id == play.id).execution_options(populate_existing=True)).one()
    play.capped = capped  # not a column: what the response tells the box
    return play


def play_json(play: Play) -> dict[str, Any]:
    return {
        "token": play.token,
        "lesson_id": play.lesson_id,
        "seconds": round(float(play.seconds or 0.0), 3),
        "position": round(float(play.position or 0.0), 3),
    }


def resume_at(device: Device, lesson_id: int) -> float:
    """Where the station's box should start this lesson: its latest play's position, or 0 near the end."""
    row = db.session.execute(
        select(Play.position, Lesson.duration)
        .join(Lesson, Lesson.id == Play.lesson_id)
        .where(Play.device_id == device.id, Play.lesson_id == lesson_id)
        .order_by(Play.started_at.desc(), Play.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return 0.0
    position, duration = float(row[0] or 0.0), float(row[1] or 0.0)
    return position if 0.0 < position < duration - RESUME_TAIL else 0.0
