"""Demo study history: watch progress, credits and a quiz, so 我的学习 and the reports show data.

Runs after the catalogue demo (dangxiao/school/demo.py). Everything goes through the same
services members and secretaries use — watch sessions with reports whose wall-clock budget
covers what they claim, the ledger's automatic awards, an offline entry by the secretary —
so the demo shows what the real rules produce. Idempotent: a member who already has progress
on a lesson is skipped, the offline entry is recorded once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from dangxiao.accounts import services
from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.school import credits, visibility, watch
from dangxiao.school.credit_models import CreditEntry, CreditSource
from dangxiao.school.demo_questions import seed_demo_quiz
from dangxiao.school.models import Course, Lesson, LessonProgress
from dangxiao.transactions import atomic

# (member, how many lessons of the catalogue to play, fraction of the last one played)
HISTORY = [("zhangsan", 5, 0.4), ("lisi", 3, 0.6), ("wangwu", 2, 1.0), ("secretary", 4, 0.5), ("zhaoliu", 1, 0.3)]
OFFLINE = ("zhangsan", "三会一课", "2", "参加2026年第三季度支部党员大会并作交流发言")


def _lessons() -> list[Lesson]:
    stmt = (
        select(Lesson)
        .join(Course)
        .where(Course.published.is_(True))
        .order_by(Course.required.desc(), Course.id, Lesson.position)
    )
    return [lesson for lesson in db.session.scalars(stmt) if lesson.asset is not None and lesson.asset.is_ready]


def _play(user, lesson: Lesson, fraction: float, start) -> bool:
    """One honest playback of `fraction` of the lesson, reported as a player would, at time `start`."""
    if db.session.scalar(
        select(LessonProgress.id).where(LessonProgress.user_id == user.id, LessonProgress.lesson_id == lesson.id)
    ):
        return False
    end = round(lesson.duration * fraction, 3)
    with atomic():
        session = watch.start_session(user, lesson, client="演示数据", now=start)
    with atomic():
        watch.report(user, session["session"], [[0.0, end]], 1.0, end, now=start + timedelta(seconds=end + 1))
    return True


def seed_study_history() -> list[str]:
    lines = ["演示学习记录："]
    with atomic():
        lines += [f"  {line}" for line in seed_demo_quiz(None)]
    lessons = _lessons()
    if not lessons:
        return [*lines, "  （没有可播放的课时，跳过学习记录）"]
    start = utcnow() - timedelta(days=3)
    played = 0
    for username, count, last_fraction in HISTORY:
        user = services.find_user(username)
        if user is None:
            continue
        mine = [lesson for lesson in lessons if visibility.may_watch_lesson(user, lesson)][:count]
        for index, lesson in enumerate(mine):
            fraction = last_fraction if index == count - 1 else 1.0
            start += timedelta(minutes=5)
            played += _play(user, lesson, fraction, start)
    lines.append(f"  新增观看记录 {played} 条")
    secretary, member = services.find_user("secretary"), services.find_user(OFFLINE[0])
    already = (
        db.session.scalar(
            select(CreditEntry.id).where(CreditEntry.user_id == member.id, CreditEntry.source == CreditSource.offline)
        )
        if member
        else True
    )
    if secretary is not None and member is not None and not already:
        with atomic():
            credits.record_offline(secretary, member, OFFLINE[2], OFFLINE[1], OFFLINE[3])
        lines.append(f"  {secretary.display_name}为{member.display_name}登记线下学时：{OFFLINE[1]} {OFFLINE[2]} 学时")
    return lines
