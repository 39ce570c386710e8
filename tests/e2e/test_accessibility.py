"""WCAG 2.1 AA in Chromium with axe-core (npm): labels, contrast, names, landmarks on every page kind.

axe runs inside the page through the DevTools protocol (page.evaluate), so the site's CSP,
which allows no inline script, stays as it is for the pages being checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dangxiao.vendor import NODE_MODULES
from tests.e2e.journeys import log_in
from tests.support.binaries import in_ci

pytestmark = pytest.mark.e2e

AXE = Path(NODE_MODULES, "axe-core/axe.min.js")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

PUBLIC = ["/", "/accounts/login", "/accounts/register", "/school/", "/forum/", "/does-not-exist"]
MEMBER = ["/", "/accounts/profile", "/accounts/password", "/notifications/"]
ADMIN = [
    "/admin/users",
    "/admin/users/new",
    "/admin/branches",
    "/admin/branches/new",
    "/accounts/approvals",
    "/admin/media/",
    "/admin/media/upload",
    "/moderation/rules/",
    "/moderation/queue/",
    "/moderation/audit/",
    "/admin/forum/boards/",
    "/admin/forum/boards/new",
]


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        message = "node_modules/axe-core 不存在：请先运行 npm install（make npm-deps）"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


def violations(page, axe_source: str) -> list[str]:
    page.evaluate(axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))",
        TAGS,
    )
    return result


def check(page, live_server: str, paths: list[str], axe_source: str) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        page.goto(live_server + path)
        problems = violations(page, axe_source)
        if problems:
            found[path] = problems
    return found


def test_public_pages_meet_wcag_aa(live_server, page, axe_source, create_branch):
    create_branch("东街村党支部")
    assert check(page, live_server, PUBLIC, axe_source) == {}


def test_member_pages_meet_wcag_aa(app, live_server, page, axe_source, create_user):
    from dangxiao.notifications.service import notify
    from dangxiao.transactions import atomic

    member = create_user("reader", display_name="读者")
    with app.app_context(), atomic():
        notify(member, "test", "欢迎参加党课学习", "/school/")
    log_in(page, live_server, "reader")
    assert check(page, live_server, MEMBER, axe_source) == {}


def test_admin_pages_meet_wcag_aa(live_server, page, axe_source, create_user, create_branch):
    committee = create_branch("县委", "committee")
    branch = create_branch("东街村党支部", parent=committee)
    create_user("pending1", branch=branch, status="pending")
    admin = create_user("boss", roles=["admin"])
    log_in(page, live_server, "boss")
    paths = [*ADMIN, f"/admin/users/{admin}", f"/admin/branches/{branch}", f"/admin/branches/{branch}/delete"]
    assert check(page, live_server, paths, axe_source) == {}
