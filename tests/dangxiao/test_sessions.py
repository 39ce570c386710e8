"""Logging out ends the session on the server: captured cookies are refused afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dangxiao.accounts.models import UserSession
from dangxiao.extensions import db
from tests.conftest import AuthActions


def _replay(app, name: str, value: str):
    """A client that holds nothing but one captured cookie."""
    thief = app.test_client()
    thief.set_cookie(name, value)
    return thief.get("/api/me")


def test_session_cookie_replayed_after_logout_is_refused(app, client, auth, create_user):
    create_user("leaky")
    auth.login("leaky")
    captured = client.get_cookie("session").value
    assert _replay(app, "session", captured).status_code == 200  # the cookie alone is a login…
    auth.logout()
    response = _replay(app, "session", captured)
    assert response.status_code == 401  # …until the session it names is ended
    assert response.get_json()["error"]["code"] == "login_required"


def test_remember_cookie_replayed_after_logout_is_refused(app, client, auth, create_user):
    create_user("leaky2")
    auth.login("leaky2", remember=True)
    captured = client.get_cookie("remember_token").value
    assert _replay(app, "remember_token", captured).status_code == 200
    auth.logout()
    assert _replay(app, "remember_token", captured).status_code == 401


def test_logout_everywhere_ends_every_device(app, client, auth, create_user):
    create_user("manydevices")
    phone = app.test_client()
    AuthActions(phone).login("manydevices", remember=True)
    auth.login("manydevices")
    profile = client.get("/accounts/profile").get_data(as_text=True)
    assert "退出所有设备" in profile
    listed = profile.split('data-testid="sessions"')[1].split("</ul>")[0]
    assert listed.count("<li>") == 2 and listed.count("当前") == 1

    response = client.post("/accounts/logout-everywhere")
    assert response.status_code == 302
    assert phone.get("/api/me").status_code == 401
    assert client.get("/api/me").status_code == 401
    with app.app_context():
        live = db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.revoked_at.is_(None)))
    assert live == 0


def test_logout_everywhere_needs_the_csrf_token(client, auth, create_user):
    create_user("csrfcheck")
    auth.login("csrfcheck")
    assert client.post("/accounts/logout-everywhere", csrf=False).status_code == 400
    assert client.get("/api/me").status_code == 200


def test_password_change_keeps_this_session_and_ends_the_others(app, client, auth, create_user):
    create_user("rotator")
    other = app.test_client()
    AuthActions(other).login("rotator")
    auth.login("rotator")
    client.post(
        "/accounts/password",
        data={"current_password": "correct-horse-1", "new_password": "brand-new-pass", "confirm": "brand-new-pass"},
    )
    assert client.get("/api/me").status_code == 200
    assert other.get("/api/me").status_code == 401


def test_forged_or_malformed_session_ids_are_refused(app, client, auth, create_user):
    """The user loader refuses ids that are not "<id>:<live token>" without an error."""
    from dangxiao.accounts import sessions

    user_id = create_user("forger")
    with app.app_context():
        for ident in [
            "",
            ":",
            f"{user_id}",
            f"{user_id}:",
            f"{user_id}:nope",
            "x:y",
            "²:abc",
            f"{user_id}:{'a' * 500}",
            "99999999999999999999999:abc",
        ]:
            assert sessions.load(ident) is None, ident


def test_first_login_says_welcome_and_later_shows_the_previous_login(app, client, auth, create_user):
    create_user("newcomer", display_name="新同志")
    page = auth.login("newcomer", follow_redirects=True).get_data(as_text=True)
    assert "欢迎，新同志" in page and "欢迎回来" not in page
    assert "这是您第一次登录" in client.get("/accounts/profile").get_data(as_text=True)
    auth.logout()
    page = auth.login("newcomer", follow_redirects=True).get_data(as_text=True)
    assert "欢迎回来，新同志" in page
    profile = client.get("/accounts/profile").get_data(as_text=True)
    assert "这是您第一次登录" not in profile


def test_login_goes_where_the_user_was_heading(client, auth, create_user):
    create_user("heading")
    response = client.get("/accounts/password")
    assert response.status_code == 302 and "next=" in response.headers["Location"]
    response = auth.login("heading", query_string={"next": "/accounts/password"})
    assert response.headers["Location"].endswith("/accounts/password")


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (
            "Mozilla/5.0 (Linux; Android 10; V2001A) AppleWebKit/537.36 Chrome/86.0 Mobile Safari/537.36 "
            "MicroMessenger/8.0.2",
            "微信 · 安卓手机",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 Version/16.0 "
            "Mobile/15E148 Safari/604.1",
            "Safari · iPhone",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0",
            "Edge · Windows 电脑",
        ),
        ("", "未知设备"),
        (None, "未知设备"),
    ],
)
def test_devices_are_described_not_dumped(agent, label):
    from dangxiao.accounts.sessions import device_label

    assert device_label(agent) == label
