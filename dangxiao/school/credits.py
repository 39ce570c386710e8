"""The 学时 ledger: automatic awards, offline entries, reversals and a member's summary.

Entries are only ever added (the database refuses UPDATE/DELETE). Automatic awards carry an
``award_key`` ("lesson:12", "course:3", "quiz:7") unique per member, so a lesson, a course or a
quiz credits once however often it completes. A correction is a reversing entry
(``reverses_id`` unique: one reversal per entry).

Daily cap (optional, ``daily_cap`` in the rules): automatic awards (lesson, course, quiz) of one
member on one local day (``TIMEZONE``, Asia/Shanghai) add up to at most the cap. An award that
does not fit whole is reduced to what fits — possibly 0 — and its reason says 已达每日上限; the
award key is used up all the same (the lesson was credited, at the capped amount). Offline
entries by secretaries are not capped.

The watch service and quizzes call :func:`lesson_completed` / :func:`quiz_passed` inside their
own transaction (flush, never commit).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dangxiao.accounts.models import User
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.notifications.service import notify, path_for
from dangxiao.policy import require
from dangxiao.queries import get_or_404
from dangxiao.school import credit_rules
from dangxiao.school.credit_models import CreditEntry, CreditSource
from dangxiao.school.models import CourseCompletion, Lesson, LessonProgress
from dangxiao.templating import local_today, site_zone
from dangxiao.text.clean import clean_block, clean_line

AUTOMATIC = (CreditSource.lesson, CreditSource.course, CreditSource.quiz)
OFFLINE_ACTIVITIES = ("三会一课", "集中培训", "主题党日", "专题讲座", "志愿服务", "其他")
ZERO = Decimal("0")


def current_year() -> int:
    """The year credits are booked to: today's year in the site's zone (Asia/Shanghai)."""
    return local_today().year


def _day_bounds_utc(day: date) -> tuple[datetime, datetime]:
    zone = site_zone()
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return start, end


def _awarded_today(user_id: int) -> Decimal:
    start, end = _day_bounds_utc(local_today())
    total = db.session.scalar(
        select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
            CreditEntry.user_id == user_id,
            CreditEntry.source.in_(AUTOMATIC),
            CreditEntry.created_at >= start,
            CreditEntry.created_at < end,
        )
    )
    return Decimal(str(total or 0))


def _has_award(user_id: int, key: str) -> bool:
    stmt = select(CreditEntry.id).where(CreditEntry.user_id == user_id, CreditEntry.award_key == key)
    return db.session.scalar(stmt) is not None


def _award(
    user_id: int, amount: Decimal, source: CreditSource, ref_id: int | None, reference: str, reason: str, key: str
) -> CreditEntry | None:
    """Add an automatic award once per `key`; None when it was already given (or is being given)."""
    if _has_award(user_id, key):
        return None
    rules = credit_rules.current()
    cap = rules["daily_cap"]
    if cap is not None and amount > 0:
        room = max(cap - _awarded_today(user_id), ZERO)
        if room < amount:
            reason = f"{reason}（已达每日上限 {cap} 学时，本次计 {room} 学时）"
            amount = room
    entry = CreditEntry(
        user_id=user_id,
        year=current_year(),
        amount=amount,
        source=source,
        ref_id=ref_id,
        reference=reference[:200],
        reason=reason,
        award_key=key,
    )
    try:
        with db.session.begin_nested():  # a concurrent award of the same key loses quietly
            db.session.add(entry)
            db.session.flush()
    except IntegrityError:
        return None
    return entry


def _page(endpoint: str, fallback: str, **values: Any) -> str:
    """A site path for `endpoint` when it exists (other pages land in the same issue), else `fallback`."""
    if endpoint in current_app.view_functions:
        try:
            return path_for(endpoint, **values)
        except Exception:  # noqa: BLE001 — a link is a convenience; the award must not fail for it
            current_app.logger.warning("no URL for %s %r", endpoint, values)
    return fallback


def lesson_completed(user_id: int, lesson: Lesson) -> None:
    """A member just completed `lesson` (≥ 95 % played): credit it once, and the course bonus
    (with a CourseCompletion row and a notification) when this finished the whole course."""
    rules = credit_rules.current()
    course = lesson.course
    _award(
        user_id,
        credit_rules.lesson_credit(lesson.duration, rules),
        CreditSource.lesson,
        lesson.id,
        f"{course.title} · {lesson.title}",
        "完成课程学习",
        f"lesson:{lesson.id}",
    )
    lesson_ids = set(db.session.scalars(select(Lesson.id).where(Lesson.course_id == course.id)))
    done = set(
        db.session.scalars(
            select(LessonProgress.lesson_id).where(
                LessonProgress.user_id == user_id,
                LessonProgress.lesson_id.in_(lesson_ids),
                LessonProgress.complete.is_(True),
            )
        )
    )
    done.add(lesson.id)
    if not lesson_ids or not lesson_ids <= done:
        return
    try:
        with db.session.begin_nested():
            db.session.add(CourseCompletion(user_id=user_id, course_id=course.id))
            db.session.flush()
    except IntegrityError:
        return  # already completed: the bonus and the notification were given then
    entry = None
    if rules["course_bonus"] > 0:
        entry = _award(
            user_id,
            rules["course_bonus"],
            CreditSource.course,
            course.id,
            course.title,
            "完成全部课时",
            f"course:{course.id}",
        )
    text = f"已完成课程《{course.title}》"
    if entry is not None and entry.amount > 0:
        text += f"，获得 {_fmt(entry.amount)} 学时"
    url = _page("school.course", path_for("credits.index"), course_id=course.id)
    notify(user_id, "school_course_completed", text + "。", url)


def quiz_passed(user_id: int, quiz: Any, attempt: Any) -> None:
    """A member's attempt passed `quiz`: credit the quiz pass bonus once per quiz."""
    bonus = credit_rules.current()["quiz_bonus"]
    if bonus <= 0:
        return
    score = getattr(attempt, "score", None)
    reason = "测试通过" + (f"（{score:g} 分）" if isinstance(score, int | float) else "")
    _award(user_id, bonus, CreditSource.quiz, quiz.id, quiz.title, reason, f"quiz:{quiz.id}")


def _member(member: Any) -> User:
    if isinstance(member, User):
        return member
    return get_or_404(User, member, "党员不存在。")


def _year(raw: Any) -> int:
    text = str(raw).strip() if raw is not None and not isinstance(raw, bool) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 4:
        raise DomainError("年度不正确。", "year_invalid", "year")
    year = int(text)
    if year < 2000 or year > current_year():
        raise DomainError(f"年度必须在 2000 到 {current_year()} 之间。", "year_range", "year")
    return year


def record_offline(actor: Any, member: Any, amount: Any, activity: Any, reason: Any, year: Any = None) -> CreditEntry:
    """A secretary enters an offline activity (三会一课, 集中培训 …) for a member in their scope."""
    member = _member(member)
    require(actor, "school.credit_member", member, "该党员不在您的管理范围内。")
    value = credit_rules.to_amount(amount, "amount", "学时", allow_zero=False)
    activity = clean_line(activity, "activity", "活动名称", 100)
    reason = clean_block(reason, "reason", "事由", 500)
    entry = CreditEntry(
        user_id=member.id,
        year=current_year() if year is None else _year(year),
        amount=value,
        source=CreditSource.offline,
        reference=activity,
        reason=reason,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def reverse(actor: Any, entry: Any, reason: Any) -> CreditEntry:
    """Cancel `entry` with a reversing entry (same year, negated amount); once per entry."""
    if not isinstance(entry, CreditEntry):
        entry = get_or_404(CreditEntry, entry, "学时记录不存在。")
    member = db.session.get(User, entry.user_id)
    require(actor, "school.credit_member", member, "该党员不在您的管理范围内。")
    reason = clean_block(reason, "reason", "更正原因", 500)
    if entry.reverses_id is not None:
        raise DomainError("更正记录不能再次更正。", "reversal_of_reversal")
    if entry.amount == 0:
        raise DomainError("该记录为 0 学时，无需更正。", "nothing_to_reverse")
    if db.session.scalar(select(CreditEntry.id).where(CreditEntry.reverses_id == entry.id)) is not None:
        raise DomainError("该记录已更正过。", "already_reversed")
    reversal = CreditEntry(
        user_id=entry.user_id,
        year=entry.year,
        amount=-entry.amount,
        source=CreditSource.correction,
        ref_id=entry.ref_id,
        reference=f"更正：{entry.reference}"[:200],
        reason=reason,
        reverses_id=entry.id,
        created_by_id=getattr(actor, "id", None),
    )
    try:
        with db.session.begin_nested():
            db.session.add(reversal)
            db.session.flush()
    except IntegrityError:
        raise DomainError("该记录已更正过。", "already_reversed") from None
    return reversal


def total(user_id: int, year: int) -> Decimal:
    stmt = select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
        CreditEntry.user_id == user_id, CreditEntry.year == year
    )
    return Decimal(str(db.session.scalar(stmt) or 0)).quantize(credit_rules.CENT)


def summary(user: Any, year: int | None = None) -> dict[str, Any]:
    """What the progress bar shows: {year, total, required, percent (0–100), remaining, done}."""
    year = year or current_year()
    earned = total(user.id, year) if getattr(user, "id", None) else ZERO
    required = credit_rules.requirement_for(user)
    percent = 100 if required <= 0 else min(int(earned * 100 / required), 100)
    return {
        "year": year,
        "total": earned,
        "required": required,
        "percent": max(percent, 0),
        "remaining": max(required - earned, ZERO),
        "done": earned >= required,
    }


def entries(user_id: int, year: int) -> list[CreditEntry]:
    """A member's entries of one year, newest first."""
    stmt = (
        select(CreditEntry)
        .where(CreditEntry.user_id == user_id, CreditEntry.year == year)
        .order_by(CreditEntry.created_at.desc(), CreditEntry.id.desc())
    )
    return list(db.session.scalars(stmt))


def reversed_ids(user_id: int) -> set[int]:
    """Ids of this member's entries that already have a reversal (shown as 已更正)."""
    stmt = select(CreditEntry.reverses_id).where(CreditEntry.user_id == user_id, CreditEntry.reverses_id.is_not(None))
    return set(db.session.scalars(stmt))


def years(user_id: int) -> list[int]:
    """Years with entries for this member, plus the current one, newest first."""
    found = set(db.session.scalars(select(CreditEntry.year).where(CreditEntry.user_id == user_id).distinct()))
    found.add(current_year())
    return sorted(found, reverse=True)


def _fmt(value: Decimal) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


fmt = _fmt
