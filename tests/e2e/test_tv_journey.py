"""A receiving station's box, driven with the remote only: arrow keys, OK and Back.

The box opens its base URL (`/tv/k/<key>/tv/`) at 1280×720, moves to a course in the second
row, opens a lesson whose media was really transcoded, watches it play (pause and play again
with OK) and goes back with Back; the play report it sent on the way out is in the database.
No clicks: every step is a key press.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.school.models import Category, Course, CourseAssignment, Lesson
from dangxiao.transactions import atomic
from media import library
from media.tasks import run_job
from tests.media.conftest import generate
from tests.school.conftest import make_course  # noqa: F401 — the school's fixture, used below
from tests.support.binaries import require
from tests.tv.conftest import make_device  # noqa: F401 — e2e does not see tests/tv/conftest.py

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FOCUSED = "() => document.activeElement && document.activeElement.getAttribute('data-testid')"
PLAYING = "() => { var v = document.getElementById('tv-video'); return v && !v.paused && v.currentTime > %s; }"


@pytest.fixture
def real_course(app, tmp_path, create_branch, make_course):  # noqa: F811 — the imported fixture
    """A required course in the first row (its asset says ready, no files) and, second in the
    next row, a course of two lessons playing a really transcoded clip."""
    require("ffmpeg")
    branch = create_branch("东村党支部")
    required = make_course(durations=(600.0,), title="必修：党章学习", open_to_all=False, category="党章党规")
    clip = generate(tmp_path / "lesson.mp4", seconds=8)
    with app.app_context():
        with atomic():
            asset = library.import_file(SYSTEM, clip, "远程教育示例").asset
        run_job(asset.job.id)
        with atomic():
            db.session.add(
                CourseAssignment(course_id=required.id, branch_id=branch, year=2026, deadline=date(2026, 12, 31))
            )
            category = Category(name="理论学习")
            course = Course(
                title="远程教育：村级党建实务",
                summary="实拍课程",
                summary_html="<p>实拍课程</p>",
                category=category,
                teacher="讲师",
                year=2026,
                open_to_all=True,
                published=True,
            )
            db.session.add(course)
            lessons = [
                Lesson(course=course, position=n, title=f"实务{n}", asset_id=asset.id, duration=asset.duration)
                for n in (1, 2)
            ]
            db.session.add_all(lessons)
            db.session.flush()
            made = branch, course.id, [lesson.id for lesson in lessons]
    make_course(durations=(600.0,), title="乡村振兴讲座", category="理论学习")  # newer: first in its row
    return made


def test_a_box_reaches_plays_and_leaves_a_lesson_with_the_remote_only(
    app,
    page,
    live_server,
    real_course,
    make_device,  # noqa: F811
):
    from dangxiao.tv.models import Play

    branch, course_id, lesson_ids = real_course
    device_id, key = make_device(branch, name="东村接收站")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{live_server}/tv/k/{key}/tv/")

    # Focus starts on the first card: the required course's row comes first.
    assert page.evaluate(FOCUSED).startswith("tv-course-")
    first_row_card = page.evaluate(FOCUSED)
    page.keyboard.press("ArrowDown")
    assert page.evaluate(FOCUSED) != first_row_card
    page.keyboard.press("ArrowRight")
    assert page.evaluate(FOCUSED) == f"tv-course-{course_id}"
    page.keyboard.press("ArrowUp")
    assert page.evaluate(FOCUSED) == first_row_card
    page.keyboard.press("ArrowDown")  # back to the card last focused in that row
    assert page.evaluate(FOCUSED) == f"tv-course-{course_id}"
    ring = page.evaluate("() => getComputedStyle(document.activeElement).outlineWidth")
    assert ring == "6px"

    page.keyboard.press("Enter")
    page.wait_for_url(f"**/tv/k/{key}/tv/course/{course_id}")
    page.wait_for_function(FOCUSED + f" === 'tv-lesson-{lesson_ids[0]}'")
    page.keyboard.press("ArrowDown")
    assert page.evaluate(FOCUSED) == f"tv-lesson-{lesson_ids[1]}"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/tv/lesson/{lesson_ids[1]}")

    # It plays the MP4 (what every box can), OK pauses and plays again.
    page.wait_for_function(PLAYING % 1.5, timeout=20000)
    assert page.get_attribute("#tv-video", "data-engine") == "mp4"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('tv-video').paused")
    assert page.inner_text("#tv-state") == "已暂停"
    page.keyboard.press("Enter")
    page.wait_for_function(PLAYING % 2.5, timeout=20000)

    # Back stops, reports and returns to the list, focused on the lesson it left.
    page.keyboard.press("Backspace")
    page.wait_for_url(f"**/tv/k/{key}/tv/course/{course_id}")
    page.wait_for_function(FOCUSED + f" === 'tv-lesson-{lesson_ids[1]}'")
    assert "继续" in page.inner_text(f"[data-testid=tv-lesson-{lesson_ids[1]}]")

    with app.app_context():
        plays = db.session.scalars(select(Play).where(Play.device_id == device_id)).all()
        assert [play.lesson_id for play in plays] == [lesson_ids[1]]
        assert plays[0].seconds > 1.5 and plays[0].position > 1.5
