"""Fixtures for the school tests: courses whose lessons point at ready media rows.

The asset rows say "ready" with a duration but have no files: the watch rules, quizzes and
credits never read media bytes. Tests that play real media transcode a generated clip
(see tests/media) instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

_ids = itertools.count(1)


@dataclass
class MadeCourse:
    id: int
    lesson_ids: list[int] = field(default_factory=list)
    asset_ids: list[int] = field(default_factory=list)
    category_id: int | None = None


@pytest.fixture
def make_course(app):
    """Factory: make_course(durations=(600.0, 1200.0), required=False, open_to_all=True,
    published=True, year=2026, title=None, category=None, attention_minutes=None) -> MadeCourse."""

    def make(
        durations=(600.0, 1200.0),
        *,
        required: bool = False,
        open_to_all: bool = True,
        published: bool = True,
        year: int = 2026,
        title: str | None = None,
        category: str | None = "理论学习",
        attention_minutes: int | None = None,
        ready: bool = True,
    ) -> MadeCourse:
        from sqlalchemy import select

        from dangxiao.extensions import db
        from dangxiao.school.models import Category, Course, Lesson
        from dangxiao.transactions import atomic
        from media.models import AssetStatus, MediaAsset

        n = next(_ids)
        with app.app_context(), atomic():
            cat = None
            if category:
                cat = db.session.scalar(select(Category).where(Category.name == category))
                if cat is None:
                    cat = Category(name=category)
                    db.session.add(cat)
            course = Course(
                title=title or f"测试课程{n}",
                summary="课程简介",
                summary_html="<p>课程简介</p>",
                category=cat,
                teacher="讲师",
                year=year,
                required=required,
                open_to_all=open_to_all,
                published=published,
                attention_minutes=attention_minutes,
            )
            db.session.add(course)
            made = MadeCourse(id=0)
            for position, duration in enumerate(durations, start=1):
                asset = MediaAsset(
                    title=f"课件{n}-{position}",
                    original_filename=f"lesson{n}-{position}.mp4",
                    status=AssetStatus.ready if ready else AssetStatus.transcoding,
                    duration=duration,
                    output_dir=f"assets/{n}{position}/v0000000{position}" if ready else None,
                    fallback_name="video.mp4",
                    has_video=True,
                    has_audio=True,
                )
                db.session.add(asset)
                lesson = Lesson(
                    course=course, position=position, title=f"第{position}讲", asset=asset, duration=duration
                )
                db.session.add(lesson)
                db.session.flush()
                made.lesson_ids.append(lesson.id)
                made.asset_ids.append(asset.id)
            db.session.flush()
            made.id = course.id
            made.category_id = cat.id if cat else None
            return made

    return make
