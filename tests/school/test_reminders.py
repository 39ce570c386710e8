"""Deadline reminders: a week before and on the day (Asia/Shanghai dates), once each, only to
active members under the assigned branch who have not completed the course."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from dangxiao.extensions import db
from dangxiao.notifications.models import Notification
from dangxiao.school import study
from dangxiao.school.models import CourseAssignment, CourseCompletion, DeadlineReminder
from dangxiao.school.reminders import send_deadline_reminders
from dangxiao.transactions import atomic

DEADLINE = date(2026, 12, 31)


def run(app, now: datetime) -> int:
    with app.app_context(), atomic():
        return send_deadline_reminders(now)


def notes(app, user_id: int) -> list[tuple[str, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(Notification.text, Notification.url)
            .where(Notification.user_id == user_id, Notification.kind == "school.deadline")
            .order_by(Notification.id)
        )
        return [tuple(r) for r in rows]


def test_week_before_and_day_of_once_each_inside_the_subtree(app, make_course, create_branch, create_user):
    town = create_branch("城关镇党总支", kind="general_branch")
    inside = create_branch("城关一支部", parent=town)
    outside = create_branch("别处支部")
    learner = create_user(branch=inside)
    finished = create_user(branch=inside)
    stranger = create_user(branch=outside)
    disabled = create_user(branch=inside, status="disabled")
    at_town = create_user(branch=town)
    course = make_course(required=True, open_to_all=False, title="学习贯彻党章")
    draft = make_course(required=True, open_to_all=False, title="未发布课程", published=False)
    with app.app_context(), atomic():
        for course_id in (course.id, draft.id):
            db.session.add(CourseAssignment(course_id=course_id, branch_id=town, year=2026, deadline=DEADLINE))
        db.session.add(CourseCompletion(user_id=finished, course_id=course.id))

    # 2026-12-23 17:00 UTC is already 12-24 01:00 in Shanghai: seven days left.
    assert run(app, datetime(2026, 12, 23, 15, 0, tzinfo=UTC)) == 0  # 12-23 23:00 local: eight days
    assert run(app, datetime(2026, 12, 23, 17, 0, tzinfo=UTC)) == 2
    assert notes(app, learner) == [
        ("必修课《学习贯彻党章》将于 12月31日 截止，还剩 7 天", f"/school/courses/{course.id}")
    ]
    assert len(notes(app, at_town)) == 1
    for nobody in (finished, stranger, disabled):
        assert notes(app, nobody) == []
    assert run(app, datetime(2026, 12, 24, 2, 0, tzinfo=UTC)) == 0  # rerun the same day
    assert run(app, datetime(2026, 12, 28, 2, 0, tzinfo=UTC)) == 0  # the week reminder went already

    assert run(app, datetime(2026, 12, 31, 0, 30, tzinfo=UTC)) == 2  # the day itself
    assert notes(app, learner)[-1][0] == "必修课《学习贯彻党章》今天（12月31日）截止，请尽快完成学习"
    assert run(app, datetime(2026, 12, 31, 9, 0, tzinfo=UTC)) == 0
    assert run(app, datetime(2027, 1, 1, 2, 0, tzinfo=UTC)) == 0  # past the deadline: silence
    assert len(notes(app, learner)) == 2
    with app.app_context():
        kinds = db.session.scalars(select(DeadlineReminder.kind).where(DeadlineReminder.user_id == learner))
        assert sorted(kinds) == ["day", "week"]


def test_cli_remind_prints_the_count(app, runner, make_course, create_branch, create_user):
    branch = create_branch("命令行支部")
    member = create_user(branch=branch)
    course = make_course(required=True, open_to_all=False)
    with app.app_context(), atomic():
        today = study.local_today()
        db.session.add(CourseAssignment(course_id=course.id, branch_id=branch, year=today.year, deadline=today))
    result = runner.invoke(args=["school", "remind"])
    assert result.exit_code == 0 and "已发送 1 条" in result.output
    assert "今天" in notes(app, member)[0][0]
    assert "已发送 0 条" in runner.invoke(args=["school", "remind"]).output
