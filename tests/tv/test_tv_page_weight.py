"""The 10-foot pages and the stations' admin and activity pages stay within the page budget."""

from __future__ import annotations

import pytest

from tests.conftest import AuthActions
from tests.dangxiao.test_page_weight import BUDGET, _weight


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:  # page weight does not depend on the database
    return request.param


def test_box_pages_fit_the_budget(client, create_branch, make_course, make_device):
    branch = create_branch("东村党支部")
    course = make_course(durations=(600.0, 900.0))
    _, key = make_device(branch)
    for path in (
        f"/tv/k/{key}/tv/",
        f"/tv/k/{key}/tv/course/{course.id}",
        f"/tv/k/{key}/tv/lesson/{course.lesson_ids[0]}",
    ):
        total, assets = _weight(client, path)
        assert any("tv.js" in url for url in assets), assets  # the script is counted
        assert total <= BUDGET, (path, total, assets)


def test_station_admin_and_activity_pages_fit_the_budget(client, create_user, create_branch, make_device):
    make_device(create_branch("西村党支部"))
    create_user("tvadmin", roles=["admin"])
    AuthActions(client).login("tvadmin")
    for path in ("/admin/tv/", "/admin/tv/new", "/school/stations/"):
        total, assets = _weight(client, path)
        assert total <= BUDGET, (path, total, assets)
