"""Every route is listed in the access table, and the table is enforced."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint

from dangxiao import access
from dangxiao.access import GRANT, PUBLIC, VALID_RULES


def test_every_route_is_in_the_access_table(app):
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(access.table(app)))
    assert not missing, f"routes without an access row (add it next to the blueprint): {missing}"


def test_access_table_has_no_stale_or_invalid_rows(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    rows = access.table(app)
    assert not sorted(set(rows) - endpoints), "rows for endpoints that no longer exist"
    assert set(rows.values()) <= VALID_RULES


def test_duplicate_or_invalid_rows_fail_at_registration(app):
    with pytest.raises(ValueError, match="duplicate"):
        access.add_rows(app, {"accounts.login": PUBLIC})
    with pytest.raises(ValueError, match="not one of"):
        access.register(app, Blueprint("extra", __name__), {"index": "role:king"})
    assert "extra" not in app.blueprints


def test_device_rule_asks_the_registered_loader(app, client):
    """A `device` row passes only when the registered loader finds a device for the request."""
    bp = Blueprint("box", __name__)
    bp.add_url_rule("/box-probe", "probe", lambda: "ok")
    access.register(app, bp, {"probe": access.DEVICE})
    # the stations' loader (dangxiao.tv) is registered by create_app: no key, no device.
    assert client.get("/box-probe").status_code == 401
    with pytest.raises(ValueError):
        access.device_loader(app, lambda: None)
    app.extensions.pop(access.DEVICE_LOADER_KEY)
    assert client.get("/box-probe").status_code == 401  # no loader: fail closed
    access.device_loader(app, lambda: {"id": 7} if _key() == "good" else None)
    assert client.get("/box-probe", headers={"X-Device-Key": "bad"}).status_code == 401
    assert client.get("/box-probe", headers={"X-Device-Key": "good"}).get_data(as_text=True) == "ok"
    with pytest.raises(ValueError):
        access.device_loader(app, lambda: None)


def test_grant_rule_asks_the_registered_verifier_and_fails_closed(app, client):
    """A `grant` row passes only when the app's grant verifier accepts the request's view args."""
    bp = Blueprint("granted", __name__)
    bp.add_url_rule("/grant-probe/<grant>", "probe", lambda grant: "ok")
    access.register(app, bp, {"probe": GRANT})
    json = {"Accept": "application/json"}
    # media's verifier is registered by create_app: this probe has no asset id, so no grant fits.
    assert client.get("/grant-probe/u1.1.x", headers=json).get_json()["error"]["code"] == "grant_invalid"
    with pytest.raises(ValueError):
        access.grant_verifier(app, lambda args: True)
    app.extensions.pop(access.GRANT_VERIFIER_KEY)
    assert client.get("/grant-probe/good").status_code == 403  # no verifier: fail closed
    verdicts = {"good": True, "old": "grant_expired", "odd": "not-a-code"}
    access.grant_verifier(app, lambda args: verdicts.get(args["grant"], False))
    assert client.get("/grant-probe/good").get_data(as_text=True) == "ok"
    for grant, code in [("old", "grant_expired"), ("odd", "grant_invalid"), ("bad", "grant_invalid")]:
        response = client.get(f"/grant-probe/{grant}", headers=json)
        assert response.status_code == 403 and response.get_json()["error"]["code"] == code, grant
    page = client.get("/grant-probe/old")
    assert page.status_code == 403 and "播放地址已过期" in page.get_data(as_text=True)


def _key() -> str | None:
    from flask import request

    return request.headers.get("X-Device-Key")


def _concrete_urls(app, predicate):
    for rule in app.url_map.iter_rules():
        if not predicate(access.table(app).get(rule.endpoint)) or rule.endpoint == "static":
            continue
        url = re.sub(r"<any\(([^,)]+)[^>]*>", lambda m: m.group(1).strip(), rule.rule)  # its first choice
        url = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", url)
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        yield rule.endpoint, url, method


def test_anonymous_visitors_cannot_reach_protected_routes(app, client):
    checked = 0
    for endpoint, url, method in _concrete_urls(app, lambda r: r not in (PUBLIC, None)):
        response = client.open(url, method=method)
        allowed = (403,) if access.table(app)[endpoint] == GRANT else (302, 400, 401)  # no valid grant
        assert response.status_code in allowed, (endpoint, response.status_code)
        if response.status_code == 302:
            assert "/accounts/login" in response.headers["Location"], endpoint
        checked += 1
    assert checked > 5


@pytest.mark.parametrize("role", ["member", "moderator", "branch_secretary"])
def test_non_admins_cannot_reach_admin_routes(app, client, auth, create_user, role):
    create_user("someone", roles=[role])
    auth.login("someone")
    checked = 0
    for endpoint, url, method in _concrete_urls(app, lambda r: r == "role:admin"):
        response = client.open(url, method=method)
        assert response.status_code == 403, (endpoint, response.status_code)
        checked += 1
    assert checked > 5


def test_admin_reaches_admin_pages(client, auth, create_user):
    create_user("root", roles=["admin"])
    auth.login("root")
    for path in ["/admin/users", "/admin/users/new", "/admin/branches", "/admin/branches/new", "/accounts/approvals"]:
        assert client.get(path).status_code == 200, path


def test_public_pages_and_navigation(client):
    home = client.get("/").get_data(as_text=True)
    for name, path in [
        ("网上党校", "/school/"),
        ("党建论坛", "/forum/"),
        ("流动党员之家", "/help/"),
        ("在线答疑", "/live/"),
    ]:
        assert name in home
        assert client.get(path).status_code == 200
