"""A member logs in through the real login form in Chromium and sees the profile page."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.e2e


def test_member_logs_in_and_sees_profile(live_server, page, create_branch, create_user):
    branch = create_branch("东街村党支部")
    create_user("zhangsan", branch=branch, display_name="张三")

    page.goto(live_server + "/")
    page.get_by_role("link", name="登录").click()
    page.get_by_label("用户名").fill("zhangsan")
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()

    page.wait_for_url(live_server + "/")  # no page was asked for: home
    assert "欢迎，张三" in page.locator(".flash-success").inner_text()
    page.get_by_test_id("nav-profile").click()
    page.wait_for_url(live_server + "/accounts/profile")
    assert page.get_by_test_id("profile-name").inner_text() == "张三"
    assert "东街村党支部" in page.get_by_test_id("profile-branch").inner_text()
    assert "党员" in page.get_by_test_id("profile-roles").inner_text()


def test_wrong_password_shows_chinese_message_in_browser(live_server, page, create_user):
    create_user("lisi")
    page.goto(live_server + "/accounts/login")
    page.get_by_label("用户名").fill("lisi")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    assert "用户名或密码错误" in page.locator(".flash-error").inner_text()
    assert page.url.startswith(live_server + "/accounts/login")


def test_notification_arrives_live_in_the_header(app, live_server, page, create_user):
    """Socket.IO in a real browser: a notification committed elsewhere bumps the badge without a reload."""
    from playwright.sync_api import expect

    from dangxiao.notifications.service import notify
    from dangxiao.transactions import atomic

    user_id = create_user("wangwu", display_name="王五")
    page.goto(live_server + "/accounts/login")
    page.get_by_label("用户名").fill("wangwu")
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server + "/")
    badge = page.locator("#notify-count")
    expect(badge).to_be_hidden()
    # An arrow function, not a bare expression: Playwright re-evaluates a bare expression with
    # eval() on every poll, which the page's CSP (no unsafe-eval) refuses once the first check fails.
    page.wait_for_function("() => window.dxNotifications && window.dxNotifications.socket.connected")

    with app.app_context(), atomic():
        notify(user_id, "test.live", "您有一门必修课即将到期", "/school/")

    expect(badge).to_have_text("1")
    expect(badge).to_be_visible()
    page.get_by_test_id("nav-notifications").click()
    expect(page.get_by_test_id("notification-list")).to_contain_text("您有一门必修课即将到期")
