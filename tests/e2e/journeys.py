"""Steps several browser journeys share."""

from __future__ import annotations

from tests.conftest import TEST_PASSWORD


def log_in(page, live_server: str, username: str) -> None:
    """Log in through the real form and wait until the site has let us in."""
    page.goto(live_server + "/accounts/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/accounts/login" not in url)
