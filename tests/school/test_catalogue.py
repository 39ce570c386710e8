"""The catalogue services: categories, course validation, publishing, lessons, assignments, demo."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.school import catalogue
from dangxiao.school.models import Category, Course, CourseAssignment, Lesson, LessonProgress
from dangxiao.transactions import atomic
from media.models import AssetStatus, MediaAsset


def _refused(fn, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught, atomic():
        fn(*args, **kwargs)
    return caught.value


def _asset(title: str, duration: float, ready: bool = True) -> int:
    with atomic():
        asset = MediaAsset(
            title=title,
            original_filename=f"{title}.mp4",
            status=AssetStatus.ready if ready else AssetStatus.transcoding,
            duration=duration,
            output_dir=f"assets/x/v{abs(hash(title)) % 10**8:08d}" if ready else None,
            fallback_name="video.mp4",
        )
        db.session.add(asset)
        db.session.flush()
        return asset.id


def test_category_rules(ctx, create_user):
    from dangxiao.accounts.models import User

    with atomic():
        theory = catalogue.create_category(SYSTEM, " 理论学习 ")
        history = catalogue.create_category(SYSTEM, "党史学习")
        century = catalogue.create_category(SYSTEM, "百年党史", history.id)
        catalogue.create_category(SYSTEM, "百年党史", theory.id)  # same name, other parent: fine
    assert theory.name == "理论学习" and [c.position for c in (theory, history)] == [1, 2]

    assert _refused(catalogue.create_category, SYSTEM, "党史学习").code == "category_duplicate"
    assert _refused(catalogue.create_category, SYSTEM, "   ").code == "name_empty"
    assert _refused(catalogue.move_category, SYSTEM, history.id, century.id).code == "category_cycle"
    assert _refused(catalogue.move_category, SYSTEM, century.id, theory.id).code == "category_duplicate"
    member = db.session.get(User, create_user("member1"))
    with pytest.raises(Forbidden), atomic():
        catalogue.create_category(member, "时政要闻")

    with atomic():
        catalogue.reorder_category(SYSTEM, history.id, "up")
    assert [c.name for c, depth in catalogue.category_tree() if depth == 0] == ["党史学习", "理论学习"]

    error = _refused(catalogue.delete_category, SYSTEM, history.id)
    assert error.code == "category_has_children" and "百年党史" in error.message
    with atomic():
        catalogue.create_course(SYSTEM, title="党史上的今天", year=2026, category_id=century.id)
    error = _refused(catalogue.delete_category, SYSTEM, century.id)
    assert error.code == "category_has_courses" and "《党史上的今天》" in error.message
    with atomic():
        assert catalogue.rename_category(SYSTEM, theory.id, "理论武装").name == "理论武装"
        child = db.session.scalar(select(Category).where(Category.parent_id == theory.id))
        assert catalogue.delete_category(SYSTEM, child.id) == "百年党史"


def test_course_validation_and_automatic_credit(ctx):
    this_year = catalogue.this_year()
    base = {"title": "《中国共产党章程》逐章学习", "year": this_year}
    for fields, field in [
        ({"title": " \u200b "}, "title"),
        ({"title": "长" * 201}, "title"),
        ({"year": 1999}, "year"),
        ({"year": this_year + 2}, "year"),
        ({"year": "二〇二六"}, "year"),
        ({"credit_hours": "-1"}, "credit_hours"),
        ({"credit_hours": "abc"}, "credit_hours"),
        ({"credit_hours": "nan"}, "credit_hours"),
        ({"attention_minutes": "0"}, "attention_minutes"),
        ({"attention_minutes": 121}, "attention_minutes"),
    ]:
        assert _refused(catalogue.create_course, SYSTEM, **{**base, **fields}).field == field, fields
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0

    with atomic():
        course = catalogue.create_course(
            SYSTEM, **base, summary="**重点**<script>alert(1)</script>", teacher="讲师", attention_minutes="10"
        )
        assert course.credit_hours == 0 and not course.published and course.attention_minutes == 10
        assert "<strong>重点</strong>" in course.summary_html and "<script>" not in course.summary_html
        for title, seconds in (("长课", 1800.0), ("中课", 900.0), ("短课", 600.0)):
            lesson = catalogue.add_lesson(SYSTEM, course.id, title, _asset(title, seconds))
            assert lesson.duration == seconds
    assert course.credit_hours == 1.75  # 1 + 0.5 + 0.25, by the default tiers
    with atomic():
        catalogue.update_course(SYSTEM, course.id, **base, credit_hours="3")
        catalogue.add_lesson(SYSTEM, course.id, "加课", _asset("加课", 2000.0))
    assert course.credit_hours == 3.0  # typed by the admin: kept when lessons change


def test_publishing_needs_ready_lessons(ctx, make_course):
    with atomic():
        empty = catalogue.create_course(SYSTEM, title="乡村振兴政策解读", year=2026)
    assert _refused(catalogue.publish_course, SYSTEM, empty.id).code == "course_no_lessons"

    made = make_course(published=False, ready=False)
    error = _refused(catalogue.publish_course, SYSTEM, made.id)
    assert error.code == "lesson_not_ready" and "第1讲" in error.message and "转码中" in error.message
    error = _refused(catalogue.add_lesson, SYSTEM, empty.id, "第一讲", made.asset_ids[0])
    assert error.code == "asset_not_ready" and error.field == "asset_id"
    assert _refused(catalogue.update_lesson, SYSTEM, made.lesson_ids[0], "x", made.asset_ids[1]).field == "asset_id"

    with atomic():
        for asset_id in made.asset_ids:
            asset = db.session.get(MediaAsset, asset_id)
            asset.status, asset.output_dir = AssetStatus.ready, f"assets/{asset_id}/v1"
        course = catalogue.publish_course(SYSTEM, made.id)
    assert course.published and course.published_at is not None
    with atomic():
        assert not catalogue.unpublish_course(SYSTEM, made.id).published


def test_lesson_order_and_deleting_studied_content(ctx, make_course, create_user):
    made = make_course(durations=(60.0, 120.0, 180.0), published=False)
    with atomic():
        catalogue.move_lesson(SYSTEM, made.lesson_ids[2], "up")
        catalogue.move_lesson(SYSTEM, made.lesson_ids[0], "up")  # already first: stays
    order = lambda: list(  # noqa: E731
        db.session.scalars(select(Lesson.id).where(Lesson.course_id == made.id).order_by(Lesson.position))
    )
    assert order() == [made.lesson_ids[0], made.lesson_ids[2], made.lesson_ids[1]]
    assert _refused(catalogue.move_lesson, SYSTEM, made.lesson_ids[0], "sideways").code == "direction_invalid"
    with atomic():
        catalogue.delete_lesson(SYSTEM, made.lesson_ids[2])
    positions = db.session.scalars(select(Lesson.position).where(Lesson.course_id == made.id).order_by(Lesson.position))
    assert list(positions) == [1, 2]

    user_id = create_user("studied")
    with atomic():
        db.session.add(LessonProgress(user_id=user_id, lesson_id=made.lesson_ids[0], played=30.0))
    assert _refused(catalogue.delete_lesson, SYSTEM, made.lesson_ids[0]).code == "lesson_has_progress"
    error = _refused(catalogue.delete_course, SYSTEM, made.id)
    assert error.code == "course_has_progress" and "取消发布" in error.message

    single = make_course(durations=(60.0,))
    assert _refused(catalogue.delete_lesson, SYSTEM, single.lesson_ids[0]).code == "course_needs_lesson"
    with atomic():
        assert catalogue.delete_course(SYSTEM, single.id).startswith("测试课程")
    assert db.session.get(Course, single.id) is None


def test_assignment_rules(ctx, make_course, create_branch):
    town = create_branch("城关镇党总支", "general_branch")
    deadline = catalogue.today() + timedelta(days=10)
    year = deadline.year  # this year, or next year in late December
    required = make_course(required=True, open_to_all=False, year=year)
    elective = make_course()
    with atomic():
        assignment = catalogue.assign_course(SYSTEM, required.id, town, str(year), deadline.isoformat())
    assert (assignment.year, assignment.deadline) == (year, deadline)

    error = _refused(catalogue.assign_course, SYSTEM, required.id, town, year, deadline)
    assert error.code == "assignment_duplicate" and "城关镇党总支" in error.message
    assert _refused(catalogue.assign_course, SYSTEM, elective.id, town, year, deadline).code == "course_not_required"
    other = create_branch("青山乡党总支", "general_branch")
    yesterday = catalogue.today() - timedelta(days=1)
    error = _refused(catalogue.assign_course, SYSTEM, required.id, other, yesterday.year, yesterday)
    assert error.code == "deadline_past"
    error = _refused(catalogue.assign_course, SYSTEM, required.id, other, year, date(year + 1, 6, 1))
    assert (error.code, error.field) == ("deadline_out_of_year", "deadline")
    assert _refused(catalogue.assign_course, SYSTEM, required.id, other, year, "明天").code == "deadline_invalid"
    assert _refused(catalogue.assign_course, SYSTEM, required.id, None, year, deadline).field == "branch_id"

    with atomic():
        moved = catalogue.update_assignment(SYSTEM, assignment.id, date(year, 1, 2))  # an edit may be past
        assert moved.deadline == date(year, 1, 2)
        catalogue.remove_assignment(SYSTEM, assignment.id)
    assert catalogue.course_assignments(required.id) == []


def test_seed_school_demo_is_idempotent(ctx, create_branch):
    from dangxiao.school.demo import COURSES, seed_school_demo
    from media.demo import DEMO_MEDIA

    create_branch("城关镇党总支", "general_branch")
    first = seed_school_demo()
    assert any("未找到可播放的演示媒体" in line for line in first)
    assert db.session.scalar(select(func.count()).select_from(Lesson)) == 0

    for title, _name, _inputs in DEMO_MEDIA:  # ready rows without files: the demo only links them
        _asset(title, 20.0)
    seed_school_demo()

    def counts():
        return [
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Category, Course, Lesson, CourseAssignment)
        ]

    before = counts()
    again = seed_school_demo()
    assert counts() == before
    assert before[1] == len(COURSES) >= 6 and before[3] == 1
    published = list(db.session.scalars(select(Course).where(Course.published.is_(True))))
    assert len(published) == len(COURSES) and all(len(c.lessons) >= 2 for c in published)
    required = [c for c in published if c.required]
    assert len(required) == 1 and not required[0].open_to_all
    assignment = db.session.scalar(select(CourseAssignment))
    assert assignment.year == 2026 and (assignment.deadline.year, assignment.deadline.month) == (2026, 12)
    assert any("已存在" in line for line in again) and not any("已创建" in line for line in again)
    names = {c.name for c in db.session.scalars(select(Category))}
    assert {"理论学习", "党章党规", "党史学习", "时政要闻", "技能培训", "百年党史"} <= names
