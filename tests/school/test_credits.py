"""The 学时 ledger: append-only in the database, awards once, rules, cap, requirements, offline entries, xAPI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text

from dangxiao.accounts.models import User
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.notifications.models import Notification
from dangxiao.policy import SYSTEM
from dangxiao.school import credit_rules, credits
from dangxiao.school.credit_models import CreditEntry, CreditRuleSet, CreditSource
from dangxiao.school.models import CourseCompletion, Lesson, LessonProgress, WatchSession
from dangxiao.school.quiz_models import Quiz, QuizAttempt
from dangxiao.transactions import atomic


def _complete(user_id: int, lesson_id: int) -> None:
    """What the watch service does on reaching 95 %: mark progress complete, then tell the ledger."""
    with atomic():
        lesson = db.session.get(Lesson, lesson_id)
        db.session.add(
            LessonProgress(
                user_id=user_id,
                lesson_id=lesson_id,
                intervals=[[0.0, lesson.duration]],
                played=lesson.duration,
                position=lesson.duration,
                complete=True,
                completed_at=datetime.now(UTC),
            )
        )
        db.session.flush()
        credits.lesson_completed(user_id, lesson)


def test_database_refuses_update_and_delete_of_entries(ctx, create_branch, create_user):
    member = create_user("ledger1", branch=create_branch("一支部"))
    with atomic():
        entry_id = credits.record_offline(SYSTEM, db.session.get(User, member), "2", "三会一课", "三月党员大会").id
    for statement in (
        "UPDATE school_credit_entries SET amount = 99 WHERE id = :id",
        "DELETE FROM school_credit_entries WHERE id = :id",
    ):
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text(statement), {"id": entry_id})
            db.session.flush()
        db.session.rollback()
    row = db.session.execute(select(CreditEntry.amount, CreditEntry.reason).where(CreditEntry.id == entry_id)).one()
    assert row == (Decimal("2.00"), "三月党员大会")


def test_awards_once_by_duration_tiers_with_course_and_quiz_bonus(ctx, make_course, create_branch, create_user):
    member = create_user("learner", branch=create_branch("二支部"))
    course = make_course(durations=(1800.0, 900.0, 600.0), title="党章学习")
    _complete(member, course.lesson_ids[0])
    with atomic():  # completing again (a second device, a replay) credits nothing more
        credits.lesson_completed(member, db.session.get(Lesson, course.lesson_ids[0]))
    assert db.session.scalar(select(func.count()).select_from(CourseCompletion)) == 0
    _complete(member, course.lesson_ids[1])
    _complete(member, course.lesson_ids[2])
    with atomic():
        quiz = Quiz(title="党章测试", course_id=course.id, published=True)
        db.session.add(quiz)
        db.session.flush()
        for _ in range(2):
            credits.quiz_passed(member, quiz, SimpleNamespace(score=80.0))
        quiz_id = quiz.id

    rows = db.session.execute(
        select(CreditEntry.award_key, CreditEntry.amount, CreditEntry.source).order_by(CreditEntry.id)
    ).all()
    assert [(k, a) for k, a, _ in rows] == [
        (f"lesson:{course.lesson_ids[0]}", Decimal("1.00")),  # ≥ 30 min
        (f"lesson:{course.lesson_ids[1]}", Decimal("0.50")),  # 15–30 min
        (f"lesson:{course.lesson_ids[2]}", Decimal("0.25")),  # < 15 min
        (f"course:{course.id}", Decimal("1.00")),
        (f"quiz:{quiz_id}", Decimal("0.50")),
    ]
    assert rows[3].source == CreditSource.course
    assert db.session.scalar(select(func.count()).select_from(CourseCompletion)) == 1
    note = db.session.scalar(select(Notification).where(Notification.user_id == member))
    assert note.text.startswith("已完成课程《党章学习》") and "获得 1 学时" in note.text
    user = db.session.get(User, member)
    summary = credits.summary(user)
    assert summary["total"] == Decimal("3.25") and summary["required"] == Decimal("32")
    assert summary["year"] == credits.current_year() and summary["percent"] == 10


def test_rules_validation_daily_cap_and_requirement_by_role(ctx, make_course, create_branch, create_user):
    branch = create_branch("三支部")
    member = create_user("capped", branch=branch)
    secretary = create_user("sec3", roles=(("branch_secretary", branch),), branch=branch)
    good = credit_rules.as_form(credit_rules.DEFAULTS)
    bad_inputs = [
        {"lesson_medium_minutes": "30"},  # not below the long tier
        {"quiz_bonus": "-1"},
        {"course_bonus": "abc"},
        {"lesson_long_credit": "0.123"},
        {"daily_cap": "0"},
        {"requirement_member": "NaN"},
    ]
    for bad in bad_inputs:
        with pytest.raises(DomainError), atomic():
            credit_rules.save(SYSTEM, {**good, **bad})
    with pytest.raises(Forbidden), atomic():
        credit_rules.save(db.session.get(User, secretary), good)
    with atomic():
        credit_rules.save(SYSTEM, {**good, "daily_cap": "1.2", "requirement_member": "40"})
    assert db.session.scalar(select(func.count()).select_from(CreditRuleSet)) == 1
    assert credit_rules.current()["daily_cap"] == Decimal("1.2")

    course = make_course(durations=(1800.0, 1800.0, 1800.0))
    for lesson_id in course.lesson_ids:
        _complete(member, lesson_id)
    amounts = list(db.session.scalars(select(CreditEntry.amount).order_by(CreditEntry.id)))
    assert amounts == [Decimal("1.00"), Decimal("0.20"), Decimal("0.00"), Decimal("0.00")]  # 3 lessons + course bonus
    reasons = list(db.session.scalars(select(CreditEntry.reason).order_by(CreditEntry.id)))
    assert "已达每日上限" not in reasons[0] and all("已达每日上限" in r for r in reasons[1:])
    assert credits.summary(db.session.get(User, member))["required"] == Decimal("40")
    assert credits.summary(db.session.get(User, secretary))["required"] == Decimal("56")


def test_offline_entries_and_reversal(ctx, create_branch, create_user):
    a, b = create_branch("甲支部"), create_branch("乙支部")
    secretary = db.session.get(User, create_user("seca", roles=(("branch_secretary", a),), branch=a))
    inside = db.session.get(User, create_user("ina", branch=a))
    outside = db.session.get(User, create_user("outb", branch=b))
    year = credits.current_year()
    bad = [
        (inside, "0", "三会一课", "会议", year, "amount_range"),
        (inside, "-2", "三会一课", "会议", year, "amount_range"),
        (inside, "101", "三会一课", "会议", year, "amount_range"),
        (inside, "NaN", "三会一课", "会议", year, "amount_invalid"),
        (inside, "2", "三会一课", "  ", year, "reason_empty"),
        (inside, "2", "", "会议", year, "activity_empty"),
        (inside, "2", "三会一课", "会议", year + 1, "year_range"),
        (inside, "2", "三会一课", "会议", 1999, "year_range"),
        (outside, "2", "三会一课", "会议", year, "forbidden"),
    ]
    for member, amount, activity, reason, y, code in bad:
        with pytest.raises(DomainError) as refused, atomic():
            credits.record_offline(secretary, member, amount, activity, reason, y)
        assert refused.value.code == code
    assert db.session.scalar(select(func.count()).select_from(CreditEntry)) == 0

    with atomic():
        entry = credits.record_offline(secretary, inside, "2.5", "集中培训", "县委党校集中轮训", year - 1)
    assert (entry.year, entry.source, entry.created_by_id) == (year - 1, CreditSource.offline, secretary.id)
    with pytest.raises(DomainError) as refused, atomic():
        credits.reverse(secretary, entry, "")
    assert refused.value.code == "reason_empty"
    with atomic():
        reversal = credits.reverse(secretary, entry.id, "录入重复")
    assert (reversal.amount, reversal.reverses_id, reversal.year) == (Decimal("-2.50"), entry.id, year - 1)
    for target, code in ((entry.id, "already_reversed"), (reversal.id, "reversal_of_reversal")):
        with pytest.raises(DomainError) as refused, atomic():
            credits.reverse(secretary, target, "再次更正")
        assert refused.value.code == code
    assert credits.total(inside.id, year - 1) == Decimal("0.00")
    assert credits.reversed_ids(inside.id) == {entry.id}
    with pytest.raises(Forbidden), atomic():  # another branch's secretary may not correct it
        other = db.session.get(User, create_user("secb", roles=(("branch_secretary", b),), branch=b))
        credits.reverse(other, entry.id, "越权")


def test_my_credits_page_and_xapi_export(ctx, client, auth, make_course, create_branch, create_user):
    member = create_user("xapier", branch=create_branch("四支部"), display_name="张学习")
    course = make_course(durations=(1800.0,), title="党史一课")
    _complete(member, course.lesson_ids[0])
    with atomic():
        db.session.add(WatchSession(token="t" * 40, user_id=member, lesson_id=course.lesson_ids[0]))
        quiz = Quiz(title="党史测试", course_id=course.id, published=True)
        db.session.add(quiz)
        db.session.flush()
        now = datetime.now(UTC)
        db.session.add(
            QuizAttempt(
                quiz_id=quiz.id,
                user_id=member,
                number=1,
                snapshot=[],
                answers={},
                started_at=now - timedelta(minutes=5),
                submitted_at=now,
                score=80.0,
                passed=True,
            )
        )
    auth.login("xapier")
    page = client.get("/school/credits/").get_data(as_text=True)
    assert "党史一课 · 第1讲" in page and "完成课程" in page and 'data-testid="credit-bar"' in page
    assert 'data-testid="credit-total">2</strong> / 32' in page  # lesson 1 + course bonus 1

    response = client.get("/school/credits/xapi.json")
    assert response.status_code == 200 and response.headers["X-Experience-API-Version"] == "1.0.3"
    statements = response.get_json()["statements"]
    verbs = sorted(s["verb"]["id"].rsplit("/", 1)[1] for s in statements)
    assert verbs == ["completed", "completed", "initialized", "passed", "played"]
    for s in statements:
        assert s["actor"]["account"] == {"homePage": "http://localhost", "name": str(member)}
        assert s["verb"]["id"].startswith("http://adlnet.gov/expapi/verbs/") and s["verb"]["display"]["zh-CN"]
        assert s["object"]["id"].startswith("http://localhost/") and s["object"]["definition"]["name"]["zh-CN"]
        assert datetime.fromisoformat(s["timestamp"]).tzinfo is not None
    passed = next(s for s in statements if s["verb"]["id"].endswith("passed"))
    assert passed["result"]["score"]["scaled"] == 0.8 and passed["result"]["success"] is True
    played = next(s for s in statements if s["verb"]["id"].endswith("played"))
    assert 1800.0 in played["result"]["extensions"].values()
    assert len({s["id"] for s in statements}) == 5
    assert client.get("/school/credits/xapi.json").get_json()["statements"][0]["id"] == statements[0]["id"]

    auth.logout()
    assert client.get("/school/credits/xapi.json").status_code in (302, 401)
