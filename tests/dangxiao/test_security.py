"""CSRF, security headers, safe redirects, rate limits, error pages."""

from __future__ import annotations

import pytest

from dangxiao.security import is_safe_next
from tests.conftest import TEST_PASSWORD


def test_login_without_csrf_token_is_refused(client, create_user):
    create_user("victim")
    response = client.post("/accounts/login", data={"username": "victim", "password": TEST_PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert "请求来源无法验证" in response.get_data(as_text=True)
    assert client.get("/accounts/profile").status_code == 302


def test_login_with_wrong_csrf_token_is_refused(client, create_user):
    create_user("victim2")
    response = client.post(
        "/accounts/login", data={"username": "victim2", "password": TEST_PASSWORD}, csrf="forged-token"
    )
    assert response.status_code == 400


def test_state_change_without_csrf_keeps_data(client, auth, create_user):
    create_user("keeper", display_name="原名")
    auth.login("keeper")
    response = client.post("/accounts/profile", data={"display_name": "被改了"}, csrf=False)
    assert response.status_code == 400
    assert "原名" in client.get("/accounts/profile").get_data(as_text=True)


def test_json_api_without_csrf_header_gets_json_error(client, auth, create_user):
    create_user("jsonuser", display_name="原名")
    auth.login("jsonuser")
    response = client.post("/api/me", json={"display_name": "被改了"}, csrf=False)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/api/me").get_json()["user"]["display_name"] == "原名"


def test_json_api_rejects_non_object_body(client, auth, create_user):
    create_user("jsonuser2")
    auth.login("jsonuser2")
    response = client.post("/api/me", json=[1, 2])
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_logout_without_csrf_is_refused(client, auth, create_user):
    create_user("stay")
    auth.login("stay")
    assert client.post("/accounts/logout", csrf=False).status_code == 400
    assert client.get("/accounts/profile").status_code == 200


def test_security_headers_on_every_page(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_scripts(client, auth, create_user):
    create_user("inspector", roles=["admin"])
    auth.login("inspector")
    for path in ["/", "/accounts/profile", "/admin/users", "/admin/branches", "/accounts/login"]:
        body = client.get(path, follow_redirects=True).get_data(as_text=True)
        assert "<script>" not in body and "onclick=" not in body, path


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/accounts/profile",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/\r\nLocation: https://evil.example",
        "/\x00",
        "",
    ],
)
def test_next_only_redirects_to_own_paths(client, auth, create_user, target):
    create_user("nexter")
    response = auth.login("nexter", query_string={"next": target})
    location = response.headers["Location"]
    assert location in ("/", "http://localhost/"), location  # a refused target lands on the home page


def test_next_to_own_path_is_followed(client, auth, create_user):
    create_user("nexter2")
    response = auth.login("nexter2", query_string={"next": "/forum/?page=2"})
    assert response.headers["Location"] == "/forum/?page=2"


def test_is_safe_next_unit():
    assert is_safe_next("/school/")
    assert not is_safe_next("//evil.example")
    assert not is_safe_next("http://localhost/")
    assert not is_safe_next(None)


def test_login_page_redirects_anonymous_visitors_with_next(client):
    response = client.get("/accounts/profile")
    assert response.status_code == 302
    assert "/accounts/login?next=/accounts/profile" in response.headers["Location"]


def test_login_is_rate_limited(app, client, auth, create_user):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    create_user("target")
    for _ in range(3):
        assert auth.login("target", "wrong-password").status_code == 401
    blocked = auth.login("target", TEST_PASSWORD)
    assert blocked.status_code == 429
    assert "操作过于频繁" in blocked.get_data(as_text=True)
    assert client.get("/accounts/profile").status_code == 302


def test_rate_limit_does_not_block_viewing_the_login_page(app, client, auth):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    for _ in range(3):
        auth.login("nobody", "wrong-password")
    assert client.get("/accounts/login").status_code == 200


@pytest.mark.parametrize(("path", "status", "text"), [("/no/such/page", 404, "页面不存在")])
def test_error_pages_are_chinese(client, path, status, text):
    response = client.get(path)
    assert response.status_code == status
    assert text in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_api_404_is_json(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found", "message": "您访问的页面不存在或已被删除。"}}


def test_405_is_chinese(client):
    response = client.get("/accounts/logout")
    assert response.status_code == 405
    assert "请求方式不允许" in response.get_data(as_text=True)


def test_413_is_chinese(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/accounts/login", data={"username": "x" * 5000, "password": "y"})
    assert response.status_code == 413
    assert "超过了允许的大小" in response.get_data(as_text=True)


def test_500_is_chinese_and_hides_details(app, client):
    from dangxiao import access

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    access.add_rows(app, {"boom": access.PUBLIC})
    app.logger.disabled = True
    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "服务器出现了问题" in body and "secret internals" not in body


def test_endpoint_missing_from_access_table_is_refused(app, client):
    @app.route("/unlisted")
    def unlisted():
        return "should not be reachable"

    response = client.get("/unlisted")
    assert response.status_code == 403
    assert "没有权限" in response.get_data(as_text=True)


def test_user_input_is_escaped(client, auth, create_user):
    create_user("escaper", display_name="<b>x</b>")
    auth.login("escaper")
    body = client.get("/accounts/profile").get_data(as_text=True)
    assert "<b>x</b>" not in body and "&lt;b&gt;x&lt;/b&gt;" in body


def test_behind_a_trusted_proxy_each_visitor_has_their_own_login_limit(app_config, create_user):
    from dangxiao import create_app
    from dangxiao.extensions import db
    from tests.conftest import CSRFClient

    app_config.update(TRUSTED_PROXIES=1, LOGIN_RATE_LIMIT="2 per minute")
    app = create_app(app_config)
    app.test_client_class = CSRFClient
    client = app.test_client()

    def attempt(ip: str) -> int:
        return client.post(
            "/accounts/login",
            data={"username": "x1", "password": "bad-pass"},
            headers={"X-Forwarded-For": ip},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ).status_code

    try:
        assert [attempt("10.0.0.1") for _ in range(3)] == [401, 401, 429]
        assert attempt("10.0.0.2") == 401
    finally:
        with app.app_context():
            db.engine.dispose()
