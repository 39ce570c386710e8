"""Deadline reminders for required courses: a week before and on the day, once each.

Run daily (``flask school remind`` or the worker's periodic task). For every assignment
whose deadline is 1–7 days away (the "week" reminder; a missed day catches up) or today
(the "day" reminder), one INSERT … SELECT claims a ``DeadlineReminder`` row for each active
member under the assigned branch who has not completed the course and was not reminded
yet; ON CONFLICT DO NOTHING makes reruns and two concurrent runners claim each row once,
and RETURNING says who was claimed. Only those get the notification, inserted in bulk in
the same transaction (a rollback drops both). Set-based: 36,000 members are a few
statements, not 36,000 round trips.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, insert, literal, select

from dangxiao.accounts.branches import subtree_ids
from dangxiao.accounts.models import User, UserStatus
from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.notifications.models import Notification
from dangxiao.notifications.service import path_for, push
from dangxiao.queries import insert_ignore
from dangxiao.school.models import Course, CourseAssignment, CourseCompletion, DeadlineReminder
from dangxiao.templating import local_today
from dangxiao.transactions import after_commit

KIND = "school.deadline"
WEEK_DAYS = 7


def reminder_text(title: str, deadline: date, days_left: int) -> str:
    when = f"{deadline.month}月{deadline.day}日"
    if days_left <= 0:
        return f"必修课《{title}》今天（{when}）截止，请尽快完成学习"
    return f"必修课《{title}》将于 {when} 截止，还剩 {days_left} 天"


def due_assignments(today: date) -> list[tuple[CourseAssignment, str]]:
    """Assignments of published courses that need a reminder today, with the reminder kind."""
    stmt = (
        select(CourseAssignment)
        .join(Course, Course.id == CourseAssignment.course_id)
        .where(
            Course.published.is_(True),
            CourseAssignment.deadline >= today,
            CourseAssignment.deadline <= today + timedelta(days=WEEK_DAYS),
        )
        .order_by(CourseAssignment.id)
    )
    return [(a, "day" if a.deadline == today else "week") for a in db.session.scalars(stmt)]


def _claim(assignment: CourseAssignment, kind: str, now: datetime) -> list[int]:
    """Insert the reminder rows not yet sent; the ids of the members this call claimed."""
    branches = sorted(subtree_ids(assignment.branch_id))
    members = select(User.id, literal(assignment.id), literal(kind), literal(now, DeadlineReminder.sent_at.type)).where(
        User.branch_id.in_(branches),
        User.status == UserStatus.active,
        ~exists().where(CourseCompletion.user_id == User.id, CourseCompletion.course_id == assignment.course_id),
        ~exists().where(
            and_(
                DeadlineReminder.assignment_id == assignment.id,
                DeadlineReminder.user_id == User.id,
                DeadlineReminder.kind == kind,
            )
        ),
    )
    stmt = (
        insert_ignore(DeadlineReminder)
        .from_select(["user_id", "assignment_id", "kind", "sent_at"], members)
        .returning(DeadlineReminder.user_id)
    )
    return list(db.session.scalars(stmt))


def _notify_all(user_ids: list[int], text: str, url: str, now: datetime) -> None:
    """One bulk insert of the notifications; the live pushes after commit."""
    rows = [{"user_id": uid, "kind": KIND, "text": text, "url": url, "created_at": now} for uid in user_ids]
    result = db.session.execute(insert(Notification).returning(Notification.id, Notification.user_id), rows)
    payloads = [(uid, {"id": nid, "kind": KIND, "text": text, "url": url}) for nid, uid in result]

    def push_all() -> None:
        for uid, payload in payloads:
            push(uid, payload)

    after_commit(push_all)


def send_deadline_reminders(now: datetime | None = None) -> int:
    """Send the reminders due at `now` (default: the present); the number of notifications sent.

    The caller commits (``with atomic():``). Idempotent: a rerun the same day sends nothing.
    """
    now = now or utcnow()
    today = local_today(now)
    sent = 0
    for assignment, kind in due_assignments(today):
        user_ids = _claim(assignment, kind, now)
        if not user_ids:
            continue
        course: Any = assignment.course
        text = reminder_text(course.title, assignment.deadline, (assignment.deadline - today).days)
        _notify_all(user_ids, text, path_for("school.course", course_id=course.id), now)
        sent += len(user_ids)
    db.session.flush()
    return sent
