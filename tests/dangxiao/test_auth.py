"""Logging in and out, remember-me, profile, password change."""

from __future__ import annotations

from dangxiao.accounts.models import User
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from tests.conftest import TEST_PASSWORD


def test_member_logs_in_and_sees_profile_with_branch_and_roles(client, auth, create_branch, create_user):
    committee = create_branch("县委", "committee")
    branch = create_branch("东街村党支部", parent=committee)
    create_user("zhangsan", roles=["member", ("branch_secretary", branch)], branch=branch, display_name="张三")

    response = auth.login("zhangsan")
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", "http://localhost/")  # no target: the home page

    page = client.get("/accounts/profile").get_data(as_text=True)
    assert "张三" in page
    assert "县委 / 东街村党支部" in page
    assert "支部书记（东街村党支部）" in page
    assert "党员" in page


def test_login_records_last_login_time(app, auth, create_user):
    user_id = create_user("lastlogin")
    auth.login("lastlogin")
    with app.app_context():
        assert db.session.get(User, user_id).last_login_at is not None


def test_username_is_case_insensitive_at_login(client, auth, create_user):
    create_user("ZhangSan")
    assert auth.login("zhangsan").status_code == 302


def test_wrong_password_gets_generic_message(client, auth, create_user):
    create_user("wangwu")
    response = auth.login("wangwu", "not-the-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/accounts/profile").status_code == 302


def test_unknown_user_gets_the_same_generic_message(auth):
    response = auth.login("nobody-here", "whatever-123")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_empty_login_form_is_rejected_in_chinese(client):
    response = client.post("/accounts/login", data={"username": "", "password": ""})
    assert response.status_code == 400
    assert "请填写用户名" in response.get_data(as_text=True)


def test_pending_account_cannot_log_in_and_is_told_why(client, auth, create_user):
    create_user("pendingguy", status="pending")
    response = auth.login("pendingguy")
    assert response.status_code == 401
    assert "等待支部书记或管理员审核" in response.get_data(as_text=True)
    assert client.get("/accounts/profile").status_code == 302


def test_disabled_account_cannot_log_in_and_is_told_why(client, auth, create_user):
    create_user("gone", status="disabled")
    response = auth.login("gone")
    assert response.status_code == 401
    assert "账号已被停用" in response.get_data(as_text=True)


def test_disabled_account_state_is_not_revealed_for_a_wrong_password(auth, create_user):
    create_user("gone2", status="disabled")
    body = auth.login("gone2", "wrong-password").get_data(as_text=True)
    assert "用户名或密码错误" in body
    assert "停用" not in body


def test_disabling_an_account_ends_its_live_session(app, client, auth, create_user):
    from dangxiao.accounts import services

    user_id = create_user("soon-disabled")
    auth.login("soon-disabled")
    assert client.get("/accounts/profile").status_code == 200
    with app.app_context():
        services.set_status(SYSTEM, db.session.get(User, user_id), "disabled")
        db.session.commit()
    assert client.get("/accounts/profile").status_code == 302


def test_logout_requires_post_and_ends_the_session(client, auth, create_user):
    create_user("bye")
    auth.login("bye")
    assert client.get("/accounts/logout").status_code == 405
    assert auth.logout().status_code == 302
    assert client.get("/accounts/profile").status_code == 302


def test_remember_me_sets_a_persistent_cookie(client, auth, create_user):
    create_user("remember")
    auth.login("remember", remember=True)
    assert client.get_cookie("remember_token") is not None


def test_without_remember_me_no_persistent_cookie(client, auth, create_user):
    create_user("noremember")
    auth.login("noremember")
    assert client.get_cookie("remember_token") is None


def test_remember_cookie_restores_the_session(app, client, auth, create_user):
    create_user("comeback")
    auth.login("comeback", remember=True)
    cookie = client.get_cookie("remember_token")
    fresh = app.test_client()
    fresh.set_cookie("remember_token", cookie.value)
    assert fresh.get("/accounts/profile").status_code == 200


def test_change_password_then_log_in_with_the_new_one(client, auth, create_user):
    create_user("changer")
    auth.login("changer")
    response = client.post(
        "/accounts/password",
        data={"current_password": TEST_PASSWORD, "new_password": "brand-new-pass", "confirm": "brand-new-pass"},
    )
    assert response.status_code == 302
    assert client.get("/accounts/profile").status_code == 200  # this session survives
    auth.logout()
    assert auth.login("changer", TEST_PASSWORD).status_code == 401
    assert auth.login("changer", "brand-new-pass").status_code == 302


def test_change_password_invalidates_remember_cookie_elsewhere(app, client, auth, create_user):
    create_user("twodevices")
    other = app.test_client()
    AuthLike = type(auth)
    AuthLike(other).login("twodevices", remember=True)
    cookie = other.get_cookie("remember_token").value
    auth.login("twodevices")
    client.post(
        "/accounts/password",
        data={"current_password": TEST_PASSWORD, "new_password": "brand-new-pass", "confirm": "brand-new-pass"},
    )
    stale = app.test_client()
    stale.set_cookie("remember_token", cookie)
    assert stale.get("/accounts/profile").status_code == 302


def test_change_password_with_wrong_current_password_keeps_the_old_one(client, auth, create_user):
    create_user("careful")
    auth.login("careful")
    response = client.post(
        "/accounts/password",
        data={"current_password": "wrong-one", "new_password": "brand-new-pass", "confirm": "brand-new-pass"},
    )
    assert response.status_code == 400
    assert "当前密码不正确" in response.get_data(as_text=True)
    auth.logout()
    assert auth.login("careful").status_code == 302


def test_change_password_rejects_short_and_mismatched(client, auth, create_user):
    create_user("weak")
    auth.login("weak")
    short = client.post(
        "/accounts/password", data={"current_password": TEST_PASSWORD, "new_password": "abc", "confirm": "abc"}
    )
    assert "密码至少 8 位" in short.get_data(as_text=True)
    mismatch = client.post(
        "/accounts/password",
        data={"current_password": TEST_PASSWORD, "new_password": "long-enough-1", "confirm": "long-enough-2"},
    )
    assert "两次输入的新密码不一致" in mismatch.get_data(as_text=True)


def test_profile_update_validates_phone(client, auth, create_user):
    create_user("phoner")
    auth.login("phoner")
    bad = client.post("/accounts/profile", data={"display_name": "某人", "phone": "12345"})
    assert bad.status_code == 400
    assert "手机号码格式不正确" in bad.get_data(as_text=True)
    good = client.post("/accounts/profile", data={"display_name": "某人", "phone": "+86 138 0013 8000"})
    assert good.status_code == 302
    assert "13800138000" in client.get("/accounts/profile").get_data(as_text=True)


def test_api_me_returns_json_and_updates_with_csrf_header(client, auth, create_user):
    create_user("apiuser", display_name="接口用户")
    auth.login("apiuser")
    assert client.get("/api/me").get_json()["user"]["display_name"] == "接口用户"
    response = client.post("/api/me", json={"display_name": "新名字"})
    assert response.status_code == 200
    assert response.get_json()["user"]["display_name"] == "新名字"


def test_api_me_requires_login_with_json_error(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "login_required"


def test_over_long_login_input_gets_the_generic_chinese_message(client, create_user):
    create_user("longcase")
    for data in ({"username": "a" * 500, "password": "whatever-1"}, {"username": "longcase", "password": "p" * 5000}):
        response = client.post("/accounts/login", data=data)
        assert response.status_code == 400
        body = response.get_data(as_text=True)
        assert "用户名或密码错误" in body and "Field" not in body


def test_login_with_zero_width_username_does_not_match_the_real_account(auth, create_user):
    create_user("zhangsan")
    assert auth.login("zhang\u200bsan").status_code == 401


def test_password_hashes_are_scrypt_unless_configured(app_config, tmp_path):
    """The suite hashes cheaply (PASSWORD_HASH_METHOD in tests/conftest.py); a site does not."""
    from dangxiao import create_app
    from dangxiao.accounts.models import User

    config = {key: value for key, value in app_config.items() if key != "PASSWORD_HASH_METHOD"}
    with create_app(config).app_context():
        user = User()
        user.set_password("correct-horse-1")
        assert user.password_hash.startswith("scrypt:")
        assert user.check_password("correct-horse-1") and not user.check_password("wrong-horse-1")
