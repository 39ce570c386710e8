"""The catalogue version moves once per transaction that changes what a feed shows, and only then."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from dangxiao.accounts.models import User
from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.school import catalogue
from dangxiao.school.models import Course, CourseAssignment, Lesson
from dangxiao.transactions import atomic
from dangxiao.tv.changes import current_version
from dangxiao.tv.models import Device, Tombstone
from media.models import AssetStatus, MediaAsset
from tests.forum.test_posting import make_board, topic_by


def version() -> int:
    db.session.rollback()  # a fresh read, as a new request would make
    return current_version()[0]


def stones() -> set[tuple[str, int, int]]:
    db.session.rollback()
    return set(db.session.execute(select(Tombstone.kind, Tombstone.ref_id, Tombstone.course_id)).tuples())


def test_catalogue_writes_move_the_version_once_per_transaction(ctx, make_course, create_branch, make_device):
    made = make_course((600.0, 600.0))
    before = version()
    with atomic():  # many changes, one transaction: one step
        for lesson_id in made.lesson_ids:
            db.session.get(Lesson, lesson_id).title = f"新标题{lesson_id}"
        db.session.flush()
        catalogue.update_course(SYSTEM, made.id, title="新课程名", summary="新的简介", teacher="李老师", year=2026)
    assert version() == before + 1

    steps = [
        lambda: catalogue.create_category(SYSTEM, "新分类"),
        lambda: catalogue.rename_category(SYSTEM, made.category_id, "理论学习（新）"),
        lambda: db.session.add(
            CourseAssignment(course_id=made.id, branch_id=create_branch(), year=2026, deadline=date(2026, 12, 31))
        ),
        lambda: catalogue.unpublish_course(SYSTEM, made.id),
    ]
    for step in steps:
        before = version()
        with atomic():
            step()
        assert version() == before + 1
    before, changed_at = current_version()
    assert changed_at > utcnow() - timedelta(minutes=1)

    with atomic():  # a station moving to another branch sees another catalogue
        device = db.session.get(Device, make_device(create_branch())[0])
        db.session.flush()
        before = current_version()[0]
    with atomic():
        device.branch_id = create_branch()
    assert version() == before + 1


def test_unrelated_writes_leave_the_version_alone(ctx, client, auth, create_user, create_branch, make_device):
    user_id = create_user("zhangsan", display_name="张三")
    board_id = make_board("学习园地")
    device_id, _key = make_device(create_branch())
    before = version()

    assert auth.login("zhangsan").status_code == 302
    topic_by(user_id, board_id)
    create_branch("新支部")
    with atomic():
        db.session.execute(update(Device).where(Device.id == device_id).values(last_seen_at=utcnow()))
        db.session.get(Device, device_id).last_seen_ip = "10.0.0.9"
        db.session.add(MediaAsset(title="新上传", original_filename="a.mp4", status=AssetStatus.uploading))
        db.session.get(User, user_id).display_name = "张三丰"

    assert version() == before


def test_rollback_moves_nothing(ctx, make_course):
    made = make_course()
    before = version()
    with pytest.raises(RuntimeError), atomic():
        catalogue.unpublish_course(SYSTEM, made.id)
        raise RuntimeError("boom")
    assert version() == before and stones() == set()
    assert db.session.get(Course, made.id).published is True


def test_tombstones_for_what_leaves_the_catalogue(ctx, app, make_course, create_branch):
    deleted, unpublished, trimmed, unassigned = (make_course((600.0, 600.0)) for _ in range(4))
    with atomic():
        row = CourseAssignment(
            course_id=unassigned.id, branch_id=create_branch(), year=2026, deadline=date(2026, 12, 31)
        )
        db.session.add(row)
    assert stones() == set()

    with atomic():
        catalogue.delete_course(SYSTEM, deleted.id)
        catalogue.unpublish_course(SYSTEM, unpublished.id)
        catalogue.delete_lesson(SYSTEM, trimmed.lesson_ids[0])
        catalogue.remove_assignment(SYSTEM, row.id)
    assert stones() >= {
        ("course", deleted.id, deleted.id),
        ("course", unpublished.id, unpublished.id),
        ("lesson", trimmed.lesson_ids[0], trimmed.id),
        ("course", unassigned.id, unassigned.id),
    }
    assert not {s for s in stones() if s[0] == "lesson" and s[2] != deleted.id} - {
        ("lesson", trimmed.lesson_ids[0], trimmed.id)
    }

    # Tombstones older than TV_TOMBSTONE_DAYS are pruned with the next ones written.
    with atomic():
        db.session.execute(update(Tombstone).values(removed_at=utcnow() - timedelta(days=400)))
    with atomic():
        catalogue.unpublish_course(SYSTEM, trimmed.id)
    assert stones() == {("course", trimmed.id, trimmed.id)}
    assert db.session.scalar(select(func.count()).select_from(Tombstone)) == 1


def test_a_transcode_finishing_moves_the_version_and_lists_the_lesson(ctx, make_course, create_branch, make_device):
    """The media jobs write an asset with one bulk UPDATE (no flush): the version moves all the same.
    (The school only lets ready assets into lessons, so this state is made by hand here.)"""
    from dangxiao.tv.catalog import catalog_for
    from media import jobs
    from media.models import JobStatus, TranscodeJob

    made = make_course((600.0,), ready=False)
    station = make_device(create_branch())[0]
    with atomic():
        job = TranscodeJob(asset_id=made.asset_ids[0], status=JobStatus.running, worker_id="w1", attempts=1)
        db.session.add(job)
    before = version()
    listed = {lesson.id for course in catalog_for(db.session.get(Device, station)).courses for lesson in course.lessons}
    assert made.lesson_ids[0] not in listed

    assert jobs.publish(job.id, "w1", made.asset_ids[0], {"output_dir": "assets/1/v00000001"})
    assert version() == before + 1
    listed = {lesson.id for course in catalog_for(db.session.get(Device, station)).courses for lesson in course.lessons}
    assert made.lesson_ids[0] in listed

    before = version()  # a bulk write elsewhere (a device's last-seen time) still moves nothing
    with atomic():
        db.session.execute(update(Device).where(Device.id == station).values(last_seen_at=utcnow()))
    assert version() == before
