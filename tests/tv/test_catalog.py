"""The station catalogue: who sees what, delta sync with tombstones, and the query-string parsers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.school import catalogue
from dangxiao.school.models import CourseAssignment
from dangxiao.transactions import atomic
from dangxiao.tv import catalog
from dangxiao.tv.models import Device


def assign(course_id: int, branch_id: int) -> int:
    with atomic():
        row = CourseAssignment(course_id=course_id, branch_id=branch_id, year=2026, deadline=date(2026, 12, 31))
        db.session.add(row)
        db.session.flush()
        return row.id


@pytest.fixture
def stations(ctx, create_branch, make_device):
    """A committee with two branches under it; one station in `branch` (a grandchild) …"""
    committee = create_branch("县委组织部", kind="committee")
    middle = create_branch("乡镇总支", kind="general_branch", parent=committee)
    branch = create_branch("东村支部", parent=middle)
    other = create_branch("西村支部", parent=committee)
    device_id, _key = make_device(branch)
    return {"committee": committee, "branch": branch, "other": other, "device_id": device_id}


def device(device_id: int) -> Device:
    return db.session.get(Device, device_id)


def test_station_sees_open_and_chain_assigned_courses_only(stations, make_course):
    open_course = make_course((600.0, 1800.0), title="党章学习")
    from_above = make_course((900.0,), open_to_all=False, required=True, title="县委必修课")
    assign(from_above.id, stations["committee"])
    others = make_course((900.0,), open_to_all=False, required=True, title="西村必修课")
    assign(others.id, stations["other"])
    hidden = make_course(open_to_all=False, title="未分派课程")
    unpublished = make_course(published=False, title="未发布课程")
    not_ready = make_course(ready=False, title="转码中课程")

    seen = catalog.catalog_for(device(stations["device_id"]))

    assert set(seen.by_id) == {open_course.id, from_above.id}
    assert {hidden.id, unpublished.id, not_ready.id, others.id}.isdisjoint(seen.by_id)
    opened, required = seen.by_id[open_course.id], seen.by_id[from_above.id]
    assert (opened.required, required.required) == (False, True)
    assert opened.summary == "课程简介" and opened.teacher == "讲师" and not opened.has_cover
    assert [lesson.id for lesson in opened.lessons] == open_course.lesson_ids
    assert [lesson.duration for lesson in opened.lessons] == [600.0, 1800.0]
    assert [c.name for c in seen.categories] == ["理论学习"]
    assert catalog.in_category(seen, open_course.category_id) == list(seen.courses)
    assert catalog.check_category(seen, str(open_course.category_id)) == open_course.category_id
    assert catalog.lesson_for_device(device(stations["device_id"]), open_course.lesson_ids[1]).title == "第2讲"
    for lesson_id in (others.lesson_ids[0], unpublished.lesson_ids[0], not_ready.lesson_ids[0], 999999):
        with pytest.raises(NotFound):
            catalog.lesson_for_device(device(stations["device_id"]), lesson_id)
    with pytest.raises(NotFound) as refused:
        catalog.check_category(seen, "424242")
    assert refused.value.code == "category_not_found"
    # Cached per version: the same object until something changes, then rebuilt.
    assert catalog.catalog_for(device(stations["device_id"])) is seen
    make_course(title="新课程")
    rebuilt = catalog.catalog_for(device(stations["device_id"]))
    assert rebuilt.version == seen.version + 1 and len(rebuilt.courses) == 3
    assert rebuilt.courses[0].title == "新课程"  # newest first


def test_delta_reports_changes_and_tombstones_for_what_left(app, stations, make_course):
    app.config["TV_DELTA_OVERLAP_SECONDS"] = 0  # exact: the overlap is checked at the end
    gone = make_course(title="将撤下")
    trimmed = make_course((600.0, 600.0), title="删一讲")
    unassigned = make_course(open_to_all=False, required=True, title="取消分派")
    assignment_id = assign(unassigned.id, stations["branch"])
    still_open = make_course(title="仍公开")
    open_assignment = assign(still_open.id, stations["branch"])
    untouched = make_course(title="未改动")
    since = utcnow()

    with atomic():
        catalogue.unpublish_course(SYSTEM, gone.id)
        catalogue.delete_lesson(SYSTEM, trimmed.lesson_ids[1])
        catalogue.remove_assignment(SYSTEM, assignment_id)
        catalogue.remove_assignment(SYSTEM, open_assignment)  # still open to all: no tombstone for it

    station = device(stations["device_id"])
    now = catalog.catalog_for(station)
    courses, removed, full = catalog.delta(station, now, since)

    assert full is False
    assert {c.id for c in courses} == {trimmed.id, still_open.id}  # both changed (a lesson, an assignment)
    assert untouched.id not in {c.id for c in courses}
    assert [lesson.id for lesson in now.by_id[trimmed.id].lessons] == trimmed.lesson_ids[:1]
    assert {(t.kind, t.id, t.course_id) for t in removed} == {
        ("course", gone.id, gone.id),
        ("lesson", trimmed.lesson_ids[1], trimmed.id),
        ("course", unassigned.id, unassigned.id),
    }
    assert all(t.removed_at >= since for t in removed)
    # Nothing since now; a full list without a since, or with one older than the tombstones are kept.
    assert catalog.delta(station, now, utcnow()) == ([], [], False)
    assert catalog.delta(station, now, None) == (list(now.courses), [], True)
    assert catalog.delta(station, now, utcnow() - timedelta(days=91))[2] is True
    # Published again: back in the list, and its tombstone is no longer reported.
    with atomic():
        catalogue.publish_course(SYSTEM, gone.id)
    again = catalog.catalog_for(station)
    courses, removed, _full = catalog.delta(station, again, since)
    assert gone.id in {c.id for c in courses} and ("course", gone.id) not in {(t.kind, t.id) for t in removed}
    # With the look-back, a course changed just before `since` is sent again (never missed).
    app.config["TV_DELTA_OVERLAP_SECONDS"] = 60
    courses, _removed, _full = catalog.delta(station, again, since)
    assert untouched.id in {c.id for c in courses}


class TestParsers:
    """Pure parsing: the database does not matter, SQLite only."""

    @pytest.fixture(params=["sqlite"])
    def backend(self, request) -> str:
        return request.param

    @pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "100001", "99999999999999999999", " ", "1e3"])
    def test_bad_pages(self, ctx, raw):
        if raw.strip() == "":
            assert catalog.parse_page(raw) == 1
            return
        with pytest.raises(DomainError) as refused:
            catalog.parse_page(raw)
        assert refused.value.code == "page_invalid"

    def test_good_pages_and_limits(self, ctx):
        assert catalog.parse_page(None) == 1
        assert catalog.parse_page("7") == 7
        assert catalog.parse_page("100000") == 100000
        assert catalog.parse_limit(None) == ctx.config["TV_PAGE_SIZE"]
        assert catalog.parse_limit(str(ctx.config["TV_PAGE_MAX"])) == ctx.config["TV_PAGE_MAX"]
        for raw in ("0", "-5", "x", str(ctx.config["TV_PAGE_MAX"] + 1), "1e9"):
            with pytest.raises(DomainError) as refused:
                catalog.parse_limit(raw)
            assert refused.value.code == "limit_invalid"

    def test_since(self, ctx):
        now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        assert catalog.parse_since(None, now) is None and catalog.parse_since("", now) is None
        assert catalog.parse_since("2026-02-01T08:00:00+08:00", now) == datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
        assert catalog.parse_since("2026-02-01T08:00:00 08:00", now) == datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
        assert catalog.parse_since("2026-02-01T00:00:00Z", now) == datetime(2026, 2, 1, tzinfo=UTC)
        assert catalog.parse_since("2026-02-01", now) == datetime(2026, 2, 1, tzinfo=UTC)  # naive = UTC
        assert catalog.parse_since("1767225600", now) == datetime(2026, 1, 1, tzinfo=UTC)
        assert catalog.parse_since("2026-03-01T12:04:00Z", now) is not None  # clocks drift a little
        for raw in ("2026-03-01T12:06:00Z", str(int(now.timestamp()) + 3600)):
            with pytest.raises(DomainError) as refused:
                catalog.parse_since(raw, now)
            assert refused.value.code == "updated_since_future"
        for raw in ("yesterday", "2026-13-01", "-1", "1e10", "99999999999999999999", "2026-02-30T00:00", "<x>"):
            with pytest.raises(DomainError) as refused:
                catalog.parse_since(raw, now)
            assert refused.value.code == "updated_since_invalid", raw

    def test_paginate(self, ctx):
        page = catalog.paginate(list(range(45)), 3, 20)
        assert (page.items, page.page, page.pages, page.total, page.limit) == ([40, 41, 42, 43, 44], 3, 3, 45, 20)
        assert catalog.paginate(list(range(45)), 9, 20).items == []
        assert catalog.paginate([], 1, 20).pages == 1
