"""School pages fit the 150 KB budget with their scripts and styles, on realistic content.

The lesson page carries the player but not hls.js: that arrives only when a member presses
play in a browser without native HLS (static/js/player.js), so it is media, not page.
"""

from __future__ import annotations

import pytest

from tests.dangxiao.test_page_weight import BUDGET, _weight


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    """Bytes on the wire do not depend on the database: SQLite only."""
    return request.param


def test_school_pages_fit_the_budget(client, auth, create_user, create_branch, make_course):
    town = create_branch("城关镇党总支", kind="general_branch")
    branch = create_branch("东街村党支部", parent=town)
    create_user("weigher", roles=["member", "admin", ("branch_secretary", town)], branch=branch)
    for n in range(12):
        make_course(durations=(600.0,) * 8, title=f"课程{n}：学习贯彻党的二十大精神专题辅导")
    course = make_course(durations=(1800.0,) * 20)
    for n in range(30):
        create_user(f"member{n}", branch=branch)
    auth.login("weigher")
    paths = [
        "/school/",
        "/school/my",
        f"/school/courses/{course.id}",
        f"/school/lessons/{course.lesson_ids[0]}",
        "/school/credits/",
        f"/school/reports/?branch_id={town}",
        "/admin/school/",
        f"/admin/school/courses/{course.id}",
    ]
    weights = {}
    for path in paths:
        total, assets = _weight(client, path)
        assert not any("hls" in url for url in assets), (path, assets)
        weights[path] = total
    assert max(weights.values()) <= BUDGET, weights
