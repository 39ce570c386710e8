"""Station activity per month for secretaries, and group sessions turned into offline credits.

A month is a local month (``TIMEZONE``): its bounds are converted to UTC instants once, so
the database compares plain timestamps (same SQL on SQLite and PostgreSQL). The monthly
table is one query: the stations of the branch subtree outer-joined to their plays'
aggregates.

A secretary over a station's branch may turn one play into credits for the members who
watched together: one offline entry per member through ``credits.record_offline`` (so it is
signed by the secretary and bounded like any offline entry) plus a ``PlayCredit`` row that
makes it once per member and play (unique constraint; a race loses with the same error).
All or nothing: one member out of scope or already credited refuses the whole request.
A play that ran less than half the lesson cannot be credited: nobody watched the lesson.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from dangxiao.accounts.branches import subtree_ids_query
from dangxiao.accounts.models import Branch, User, UserStatus
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.queries import MAX_ID, get_or_404
from dangxiao.school import credit_rules, credits, reports
from dangxiao.school.credit_models import CreditEntry
from dangxiao.school.models import Course, Lesson
from dangxiao.templating import local_today, localtime, site_zone
from dangxiao.text.clean import clean_block
from dangxiao.tv.models import Device, Play, PlayCredit

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
MIN_SHARE = 0.5  # of the lesson's duration a play must have run to be credited
MAX_MEMBERS = 500  # members credited from one play (the attendee bound of a report)
ACTIVITY_PREFIX = "接收站点集中学习："


@dataclass(frozen=True)
class StationRow:
    device_id: int
    name: str
    village: str
    branch_name: str
    active: bool
    plays: int
    seconds: float
    sessions: int  # plays with at least one attendee reported
    attendees: int  # the sum of those attendees
    lessons: int  # distinct lessons played
    last_seen_at: datetime | None

    @property
    def hours(self) -> float:
        return round(self.seconds / 3600, 1)


@dataclass(frozen=True)
class Totals:
    stations: int
    plays: int
    seconds: float
    sessions: int
    attendees: int

    @property
    def hours(self) -> float:
        return round(self.seconds / 3600, 1)


@dataclass(frozen=True)
class PlayRow:
    id: int
    lesson_id: int
    lesson_title: str
    course_title: str
    duration: float
    started_at: datetime
    reported_at: datetime
    seconds: float
    attendees: int | None
    credited: int  # members credited from this play

    @property
    def creditable(self) -> bool:
        return self.seconds >= MIN_SHARE * self.duration


# ---------------------------------------------------------------- months


def parse_month(raw: Any, today: date | None = None) -> date:
    """`YYYY-MM` → the first day of that month (default: this month); future months are refused."""
    today = today or local_today()
    if raw is None or raw == "":
        return today.replace(day=1)
    match = MONTH_RE.match(raw) if isinstance(raw, str) else None
    if match is None or not 2000 <= int(match[1]) <= 9999 or not 1 <= int(match[2]) <= 12:
        raise DomainError("月份格式应为 YYYY-MM，例如 2026-03。", "month_invalid", "month")
    month = date(int(match[1]), int(match[2]), 1)
    if month > today.replace(day=1):
        raise DomainError("不能查看未来月份的记录。", "month_future", "month")
    return month


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """UTC instants where the local month begins and the next one begins."""
    zone = site_zone()
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), following.astimezone(UTC)


# ---------------------------------------------------------------- reading


def resolve_branch(actor: Any, branch_id: int | None) -> Branch:
    """The branch asked for (within the actor's scope), else the actor's first scope root."""
    branch = reports.default_root(actor) if branch_id is None else get_or_404(Branch, branch_id, "组织不存在。")
    require(actor, "tv.view_activity", branch.id, "您无权查看该组织的接收站点。")
    return branch


def station_month(actor: Any, branch_id: int, month: date) -> list[StationRow]:
    """Every station in the branch's subtree with its plays of the month (zeros when idle)."""
    require(actor, "tv.view_activity", branch_id, "您无权查看该组织的接收站点。")
    start, end = month_bounds(month)
    agg = (
        select(
            Play.device_id.label("device_id"),
            func.count(Play.id).label("plays"),
            func.coalesce(func.sum(Play.seconds), 0.0).label("seconds"),
            func.coalesce(func.sum(case((Play.attendees > 0, 1), else_=0)), 0).label("sessions"),
            func.coalesce(func.sum(case((Play.attendees > 0, Play.attendees), else_=0)), 0).label("attendees"),
            func.count(func.distinct(Play.lesson_id)).label("lessons"),
        )
        .where(Play.started_at >= start, Play.started_at < end)
        .group_by(Play.device_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Device, Branch.name, agg.c.plays, agg.c.seconds, agg.c.sessions, agg.c.attendees, agg.c.lessons)
        .join(Branch, Branch.id == Device.branch_id)
        .outerjoin(agg, agg.c.device_id == Device.id)
        .where(Device.branch_id.in_(subtree_ids_query(branch_id)))
        .order_by(Branch.name, Device.name, Device.id)
    ).all()
    return [
        StationRow(
            device_id=device.id,
            name=device.name,
            village=device.village or "",
            branch_name=branch_name,
            active=device.active,
            plays=int(plays or 0),
            seconds=float(seconds or 0.0),
            sessions=int(sessions or 0),
            attendees=int(attendees or 0),
            lessons=int(lessons or 0),
            last_seen_at=device.last_seen_at,
        )
        for device, branch_name, plays, seconds, sessions, attendees, lessons in rows
    ]


def totals(rows: list[StationRow]) -> Totals:
    return Totals(
        stations=len(rows),
        plays=sum(r.plays for r in rows),
        seconds=sum(r.seconds for r in rows),
        sessions=sum(r.sessions for r in rows),
        attendees=sum(r.attendees for r in rows),
    )


def get_station(actor: Any, device_id: int) -> Device:
    """A station the actor may read; another branch's station is the same 404 as none."""
    device = db.session.get(Device, device_id) if 0 < device_id <= MAX_ID else None
    if device is None:
        raise NotFound("接收站点不存在。", "device_not_found")
    require(actor, "tv.view_activity", device.branch_id, "您无权查看该接收站点。")
    return device


def plays_for(actor: Any, device_id: int, month: date) -> list[PlayRow]:
    """The station's plays of the month, newest first, with how many members each credited."""
    device = get_station(actor, device_id)
    start, end = month_bounds(month)
    credited = select(func.count(PlayCredit.id)).where(PlayCredit.play_id == Play.id).correlate(Play).scalar_subquery()
    rows = db.session.execute(
        select(Play, Lesson.title, Lesson.duration, Course.title, credited)
        .join(Lesson, Lesson.id == Play.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .where(Play.device_id == device.id, Play.started_at >= start, Play.started_at < end)
        .order_by(Play.started_at.desc(), Play.id.desc())
    ).all()
    return [
        PlayRow(
            id=play.id,
            lesson_id=play.lesson_id,
            lesson_title=lesson_title,
            course_title=course_title,
            duration=float(duration or 0.0),
            started_at=play.started_at,
            reported_at=play.reported_at,
            seconds=float(play.seconds or 0.0),
            attendees=play.attendees,
            credited=int(count or 0),
        )
        for play, lesson_title, duration, course_title, count in rows
    ]


# ---------------------------------------------------------------- crediting


def get_play(actor: Any, play_id: int) -> Play:
    """A play the actor may credit (a secretary over the station's branch)."""
    play = get_or_404(Play, play_id, "播放记录不存在。")
    require(actor, "tv.credit_play", play, "您无权为该接收站点登记学时。")
    return play


def eligible_members_stmt(play: Play):
    """Active members of a branch in the station's branch subtree (who may be credited)."""
    return select(User).where(
        User.status == UserStatus.active, User.branch_id.in_(subtree_ids_query(play.device.branch_id))
    )


def eligible_members(play: Play) -> list[tuple[User, str]]:
    """(member, branch name) for the credit form, by branch then name."""
    stmt = (
        eligible_members_stmt(play)
        .join(Branch, Branch.id == User.branch_id)
        .add_columns(Branch.name)
        .order_by(Branch.name, User.display_name, User.id)
    )
    return [(user, name) for user, name in db.session.execute(stmt).all()]


def credited_ids(play_id: int) -> set[int]:
    return set(db.session.scalars(select(PlayCredit.user_id).where(PlayCredit.play_id == play_id)))


def default_amount(lesson: Lesson) -> Decimal:
    """The lesson's credit under the rules in force (what a member earns completing it online)."""
    return credit_rules.lesson_credit(lesson.duration)


def _member_ids(raw: Any) -> list[int]:
    ids: list[int] = []
    for value in raw or ():
        number = int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value
        if isinstance(number, bool) or not isinstance(number, int) or not 0 < number <= MAX_ID:
            raise DomainError("所选党员无效。", "members_invalid", "member_ids")
        if number not in ids:
            ids.append(number)
    if not ids:
        raise DomainError("请至少勾选一名参加学习的党员。", "members_empty", "member_ids")
    if len(ids) > MAX_MEMBERS:
        raise DomainError(f"一次最多为 {MAX_MEMBERS} 名党员登记。", "members_too_many", "member_ids")
    return ids


def _names(users: list[User]) -> str:
    shown = "、".join(u.display_name for u in users[:10])
    return shown + (f" 等 {len(users)} 人" if len(users) > 10 else "")


def credit_group_session(
    actor: Any, play_id: int, member_ids: Any, amount: Any = None, note: Any = ""
) -> list[CreditEntry]:
    """One offline entry (signed by `actor`) and one PlayCredit per attending member; all or nothing."""
    play = get_play(actor, play_id)
    lesson = db.session.get(Lesson, play.lesson_id)
    if float(play.seconds or 0.0) < MIN_SHARE * float(lesson.duration or 0.0):
        raise DomainError("该次播放不足课时长度的一半，不能登记学时。", "play_too_short")
    ids = _member_ids(member_ids)
    note = clean_block(note, "note", "备注", 300, required=False)
    members = {u.id: u for u in db.session.scalars(eligible_members_stmt(play).where(User.id.in_(ids)))}
    outside = [i for i in ids if i not in members]
    if outside:
        known = list(db.session.scalars(select(User).where(User.id.in_(outside)).order_by(User.id)))
        who = _names(known) if known else "所选党员"
        raise DomainError(f"{who}不是本站点所属组织的在册党员，不能登记。", "member_out_of_scope", "member_ids")
    done = credited_ids(play.id) & set(ids)
    if done:
        raise DomainError(
            f"{_names([members[i] for i in ids if i in done])}已登记过本次学习，请取消勾选后再提交。",
            "play_already_credited",
            "member_ids",
        )
    value = default_amount(lesson) if amount is None or (isinstance(amount, str) and not amount.strip()) else amount
    course_title = db.session.scalar(select(Course.title).where(Course.id == lesson.course_id)) or ""
    activity = (ACTIVITY_PREFIX + lesson.title)[:100]
    reason = f"{play.device.name}（{localtime(play.started_at)}）集中观看《{course_title}》{lesson.title}"[:190]
    if note:
        reason = f"{reason}\n{note}"
    year = localtime(play.started_at, "%Y")
    entries = [credits.record_offline(actor, members[i], value, activity, reason, year) for i in ids]
    try:
        with db.session.begin_nested():  # a concurrent request for the same member loses here
            for entry in entries:
                db.session.add(
                    PlayCredit(
                        play_id=play.id,
                        user_id=entry.user_id,
                        credit_entry_id=entry.id,
                        created_by_id=getattr(actor, "id", None),
                    )
                )
            db.session.flush()
    except IntegrityError:
        raise DomainError(
            "部分党员刚刚已被登记过本次学习，请刷新页面后重试。", "play_already_credited", "member_ids"
        ) from None
    return entries
