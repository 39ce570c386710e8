"""Courses and lessons in search, on both databases: only published courses are indexed, and a
member finds (and counts) only the courses the catalogue shows them; assigning a course
changes that at once, with no reindex."""

from __future__ import annotations

from datetime import date

from flask_login import AnonymousUserMixin
from sqlalchemy import select

from dangxiao.accounts.models import User
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.school import assignments, catalogue
from dangxiao.school.models import Category
from dangxiao.search.models import SearchDoc
from dangxiao.search.service import search
from dangxiao.transactions import atomic
from media.models import AssetStatus, MediaAsset


def found(actor, q: str, **filters) -> set[tuple[str, int]]:
    return {(hit.kind, hit.ref_id) for hit in search(actor, q, per_page=50, **filters).hits}


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


def make_course(title: str, summary: str, lesson: str, **fields) -> tuple[int, int]:
    """An unpublished course with one lesson playing a ready asset: (course id, lesson id)."""
    with atomic():
        asset = MediaAsset(
            title=lesson,
            original_filename="lesson.mp4",
            status=AssetStatus.ready,
            duration=600.0,
            output_dir="assets/1/v00000001",
            fallback_name="video.mp4",
            has_video=True,
            has_audio=True,
        )
        db.session.add(asset)
        db.session.flush()
        course = catalogue.create_course(SYSTEM, title=title, summary=summary, year=date.today().year, **fields)
        return course.id, catalogue.add_lesson(SYSTEM, course.id, lesson, asset.id).id


def test_only_published_courses_and_their_lessons_are_found(ctx, create_user, create_branch):
    member = create_user("member", branch=create_branch("第一支部"))
    with atomic():
        category = Category(name="党史学习")
        db.session.add(category)
        db.session.flush()
        category_id = category.id
    course_id, lesson_id = make_course(
        "百年党史专题",
        "系统学习**百年党史**，主讲人带你读原文。",
        "党史第一讲",
        teacher="王老师",
        category_id=category_id,
    )
    assert found(user(member), "党史") == set()
    assert db.session.scalar(select(SearchDoc.id)) is None  # an unpublished course is not indexed at all

    with atomic():
        catalogue.publish_course(SYSTEM, course_id)
    results = search(user(member), "党史")
    assert {(h.kind, h.ref_id) for h in results.hits} == {("course", course_id), ("lesson", lesson_id)}
    assert (results.counts.get("course"), results.counts.get("lesson")) == (1, 1)
    assert found(user(member), "黨史", category=str(category_id)) == {("course", course_id), ("lesson", lesson_id)}
    assert found(user(member), "王老师") == {("course", course_id)}
    docs = {d.kind: d for d in db.session.scalars(select(SearchDoc))}
    assert (docs["course"].url, docs["lesson"].url) == (f"/school/courses/{course_id}", f"/school/lessons/{lesson_id}")
    assert "**" not in docs["course"].body  # the readable text, not the Markdown
    assert found(AnonymousUserMixin(), "党史") == set()

    with atomic():
        catalogue.update_course(SYSTEM, course_id, title="党的历史专题", summary="新的简介", year=date.today().year)
    assert found(user(member), "党的历史") == {("course", course_id)}

    with atomic():  # unpublishing takes the lessons out with the course
        catalogue.unpublish_course(SYSTEM, course_id)
    assert found(user(member), "党史") == set()
    assert db.session.scalar(select(SearchDoc.id)) is None


def test_an_assigned_course_is_found_only_under_the_assigned_branch_until_assigned_elsewhere(
    ctx, create_user, create_branch
):
    a, b = create_branch("第一支部"), create_branch("第二支部")
    inside, outside = create_user("inside", branch=a), create_user("outside", branch=b)
    admin = create_user("admin", roles=["admin"])
    course_id, lesson_id = make_course(
        "纪律教育必修课", "学习《中国共产党纪律处分条例》全文。", "纪律处分条例解读", required=True, open_to_all=False
    )
    year = date.today().year
    with atomic():
        catalogue.publish_course(SYSTEM, course_id)
        assignments.assign_course(SYSTEM, course_id, a, year, date(year, 12, 31).isoformat())
    both = {("course", course_id), ("lesson", lesson_id)}
    assert found(user(inside), "纪律处分") == both
    stranger = search(user(outside), "纪律处分")
    assert (stranger.total, stranger.counts.get("course", 0), stranger.hits) == (0, 0, [])
    assert found(user(admin), "纪律处分") == both  # admins see every course

    indexed = db.session.execute(select(SearchDoc.kind, SearchDoc.ref_id, SearchDoc.indexed_at)).all()
    with atomic():
        assignments.assign_course(SYSTEM, course_id, b, year, date(year, 12, 31).isoformat())
    assert found(user(outside), "纪律处分") == both
    assert db.session.execute(select(SearchDoc.kind, SearchDoc.ref_id, SearchDoc.indexed_at)).all() == indexed

    with atomic():  # deleting a course removes it and its lessons from the index
        catalogue.delete_course(SYSTEM, course_id)
    assert db.session.scalar(select(SearchDoc.id)) is None
