"""The access table: the single place that decides who may reach each endpoint.

Each package registers its blueprints through :func:`register`, passing the rows for
that blueprint's views next to the blueprint itself; the rows are merged into one
table per app (``app.extensions["access"]``). A duplicate row or an invalid rule fails
at registration; a test walks ``app.url_map`` both ways so a route without a row (or
a row without a route) fails the suite, and at run time an endpoint without a row is
refused (fail closed). Object-level questions (this secretary and that member's
branch) are answered by the domain policies (``dangxiao.policy.can``), not here.

Rules: ``public``, ``login``, ``device`` (a set-top box's key, checked by the loader
registered with :func:`device_loader`), ``grant`` (a signed, expiring grant in the URL,
checked by the verifier registered with :func:`grant_verifier`; media delivery uses it so
players and set-top boxes need no session), ``role:<name>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, redirect, request, url_for
from flask_login import current_user

from dangxiao.accounts.models import Role
from dangxiao.accounts.permissions import has_role
from dangxiao.errors import error_response

PUBLIC = "public"
LOGIN = "login"
DEVICE = "device"
GRANT = "grant"

TABLE_KEY = "access"
DEVICE_LOADER_KEY = "access.device_loader"
GRANT_VERIFIER_KEY = "access.grant_verifier"
DEVICE_ENVIRON_KEY = "dangxiao.device"

DeviceLoader = Callable[[], Any]
#: Given the request's view args: True to let it through, else False or a refusal code.
GrantVerifier = Callable[[Mapping[str, Any]], "bool | str"]
GRANT_REFUSALS = {
    "grant_invalid": "播放地址无效：请回到课程页面重新打开。",
    "grant_expired": "播放地址已过期：请刷新页面后重新播放。",
}


def role(name: Role | str) -> str:
    return f"role:{Role(name).value}"


VALID_RULES = frozenset({PUBLIC, LOGIN, DEVICE, GRANT} | {role(r) for r in Role})


def table(app: Flask | None = None) -> dict[str, str]:
    """The merged endpoint → rule table of `app` (default: the current app)."""
    app = app or current_app
    return app.extensions.setdefault(TABLE_KEY, {})


def add_rows(app: Flask, rows: Mapping[str, str]) -> None:
    """Add full-endpoint rows; a duplicate or an unknown rule is a programming error."""
    merged = table(app)
    for endpoint, rule in rows.items():
        if rule not in VALID_RULES:
            raise ValueError(f"access rule {rule!r} for {endpoint} is not one of {sorted(VALID_RULES)}")
        if endpoint in merged:
            raise ValueError(f"duplicate access row for {endpoint}")
        merged[endpoint] = rule


def register(app: Flask, blueprint: Blueprint, rows: Mapping[str, str], **options: Any) -> None:
    """Register `blueprint` with its rows, keyed by view name ("login" → "accounts.login")."""
    add_rows(app, {f"{blueprint.name}.{view}": rule for view, rule in rows.items()})
    app.register_blueprint(blueprint, **options)


def device_loader(app: Flask, loader: DeviceLoader) -> None:
    """Set the function that returns the device of this request (by its key) or None."""
    if app.extensions.get(DEVICE_LOADER_KEY) is not None:
        raise ValueError("a device loader is already registered")
    app.extensions[DEVICE_LOADER_KEY] = loader


def grant_verifier(app: Flask, verifier: GrantVerifier) -> None:
    """Set the function that checks the grant in a `grant` route's view args (no database read).

    It returns True to let the request through, else False ("grant_invalid") or one of the
    codes of GRANT_REFUSALS ("grant_expired"); the request is then refused with a 403.
    """
    if app.extensions.get(GRANT_VERIFIER_KEY) is not None:
        raise ValueError("a grant verifier is already registered")
    app.extensions[GRANT_VERIFIER_KEY] = verifier


def _grant_refusal():
    """None when the registered verifier accepts the request's grant, else the 403 (fail closed)."""
    verifier = current_app.extensions.get(GRANT_VERIFIER_KEY)
    verdict = verifier(request.view_args or {}) if verifier is not None else False
    if verdict is True:
        return None
    code = verdict if verdict in GRANT_REFUSALS else "grant_invalid"
    return error_response(403, code, GRANT_REFUSALS[code])


def current_device() -> Any:
    """The device the loader found for this request (None until one is registered)."""
    # Kept on the request (not g): a test's app context may outlive several requests.
    environ = request.environ
    if DEVICE_ENVIRON_KEY not in environ:
        loader = current_app.extensions.get(DEVICE_LOADER_KEY)
        environ[DEVICE_ENVIRON_KEY] = loader() if loader is not None else None
    return environ[DEVICE_ENVIRON_KEY]


def check_access(endpoint: str | None):
    """None when the request may proceed, else the response that refuses it."""
    if endpoint is None:  # no route matched: let the 404/405 handler answer
        return None
    rule = table().get(endpoint)
    if rule is None:
        return error_response(403)
    if rule == PUBLIC:
        return None
    if rule == DEVICE:
        if current_device() is not None:
            return None
        # Always JSON: boxes and players read it, and their paths (M3U, MacCMS, /tv/) are not under /api/.
        return jsonify(error={"code": "device_key_required", "message": "需要有效的设备密钥。"}), 401
    if rule == GRANT:
        return _grant_refusal()
    if not current_user.is_authenticated:
        if request.path.startswith("/api/") or request.method not in ("GET", "HEAD"):
            return error_response(401)
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    if rule == LOGIN:
        return None
    if rule.startswith("role:") and has_role(current_user, rule[5:]):
        return None
    return error_response(403)


def init_app(app: Flask) -> None:
    add_rows(app, {"static": PUBLIC})

    @app.before_request
    def enforce_access():
        return check_access(request.endpoint)
