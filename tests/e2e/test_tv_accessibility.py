"""WCAG 2.1 AA (axe-core) on the 10-foot pages and the stations' admin and activity pages."""

from __future__ import annotations

import pytest

from tests.e2e.journeys import log_in
from tests.e2e.test_accessibility import axe_source, check  # noqa: F401 — axe_source is a fixture
from tests.school.conftest import make_course  # noqa: F401 — the school's fixture
from tests.tv.conftest import make_device  # noqa: F401 — e2e does not see tests/tv/conftest.py

pytestmark = pytest.mark.e2e


def test_box_and_station_pages_meet_wcag_aa(
    live_server,
    page,
    axe_source,  # noqa: F811
    create_user,
    create_branch,
    make_course,  # noqa: F811
    make_device,  # noqa: F811
):
    branch = create_branch("东村党支部")
    course = make_course(durations=(600.0, 900.0))
    _, key = make_device(branch)
    box = [
        f"/tv/k/{key}/tv/",
        f"/tv/k/{key}/tv/course/{course.id}",
        f"/tv/k/{key}/tv/lesson/{course.lesson_ids[0]}",
        f"/tv/k/{key}/tv/course/999999",
    ]
    assert check(page, live_server, box, axe_source) == {}
    create_user("tvadmin", roles=["admin"])
    log_in(page, live_server, "tvadmin")
    assert check(page, live_server, ["/admin/tv/", "/admin/tv/new", "/school/stations/"], axe_source) == {}
