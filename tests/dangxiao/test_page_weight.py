"""Pages stay light for rural phones on slow lines: ≤ 150 KB with their scripts, styles and icon."""

from __future__ import annotations

import re

import pytest

from tests.conftest import AuthActions

BUDGET = 150 * 1024
ASSET = re.compile(r'<(?:script[^>]+src|link[^>]+href)="([^"]+)"')


def _weight(client, path: str) -> tuple[int, list[str]]:
    page = client.get(path)
    assert page.status_code == 200, path
    html = page.get_data(as_text=True)
    total, assets = len(page.data), []
    for url in sorted(set(ASSET.findall(html))):
        if not url.startswith("/"):
            continue
        response = client.get(url)
        with response:
            assert response.status_code == 200, url
            total += len(response.get_data())
        assets.append(url)
    return total, assets


@pytest.mark.parametrize("path", ["/", "/accounts/login", "/accounts/register", "/help/", "/help/faq"])
def test_public_pages_fit_the_budget(client, path):
    total, assets = _weight(client, path)
    assert total <= BUDGET, (path, total, assets)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/accounts/profile",
        "/notifications/",
        "/admin/users",
        "/admin/media/",
        "/moderation/rules/",
        "/help/?tab=all",
        "/help/new",
        "/help/templates/",
        "/admin/help/routes/",
        "/help/stats/",
        "/help/stats/hot",
    ],
)
def test_logged_in_pages_fit_the_budget_with_the_live_client(client, create_user, path):
    create_user("weigher", roles=["admin"])
    AuthActions(client).login("weigher")
    total, assets = _weight(client, path)
    assert any("socket.io" in url for url in assets)  # the heaviest piece is counted
    assert total <= BUDGET, (path, total, assets)
