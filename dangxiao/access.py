"""The access table: the single place that decides who may reach each endpoint.

Every endpoint in `app.url_map` must have a row here; a test walks the map and
fails on a missing one, and at run time an endpoint without a row is refused
(fail closed). Finer, data-dependent checks (a secretary's branch scope) are made
in services through `dangxiao.accounts.permissions.has_role`.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, redirect, request, url_for
from flask_login import current_user

from dangxiao.accounts.permissions import has_role
from dangxiao.errors import error_response

PUBLIC = "public"
LOGIN = "login"
DEVICE = "device"


def role(name: str) -> str:
    return f"role:{name}"


ACCESS: dict[str, str] = {
    "static": PUBLIC,
    # main
    "main.index": PUBLIC,
    "main.healthz": PUBLIC,
    # accounts
    "auth.login": PUBLIC,
    "auth.register": PUBLIC,
    "auth.logout": LOGIN,
    "auth.profile": LOGIN,
    "auth.password": LOGIN,
    "api.me": LOGIN,
    "auth.approvals": role("branch_secretary"),
    "auth.approve": role("branch_secretary"),
    # admin
    "admin.index": role("admin"),
    "admin.users": role("admin"),
    "admin.user_new": role("admin"),
    "admin.user_edit": role("admin"),
    "admin.user_status": role("admin"),
    "admin.user_password": role("admin"),
    "admin.role_add": role("admin"),
    "admin.role_remove": role("admin"),
    "admin.branches": role("admin"),
    "admin.branch_new": role("admin"),
    "admin.branch_edit": role("admin"),
    "admin.branch_delete": role("admin"),
    # school (网上党校)
    "school.index": PUBLIC,
    # forum package
    "forum.index": PUBLIC,
    "helpdesk.index": PUBLIC,
    "live.index": PUBLIC,
    # media — admin pages and the upload/status API (session + CSRF header)
    "media.library_page": role("admin"),
    "media.upload_page": role("admin"),
    "media.asset_page": role("admin"),
    "media.asset_retry": role("admin"),
    "media.asset_cancel": role("admin"),
    "media.asset_delete": role("admin"),
    "media_api.upload_create": role("admin"),
    "media_api.upload_status": role("admin"),
    "media_api.upload_chunk": role("admin"),
    "media_api.upload_abort": role("admin"),
    "media_api.asset_status": role("admin"),
    # media delivery: public for now; lessons will decide (public / members / device key)
    "media_files.file": PUBLIC,
    # front-end libraries from node_modules (whitelisted files only)
    "vendor.file": PUBLIC,
}

# Set by the IPTV module when it lands: returns True when the request carries a valid device key.
device_authenticator: Callable[[], bool] | None = None


def check_access(endpoint: str | None):
    """None when the request may proceed, else the response that refuses it."""
    if endpoint is None:  # no route matched: let the 404/405 handler answer
        return None
    rule = ACCESS.get(endpoint)
    if rule is None:
        return error_response(403)
    if rule == PUBLIC:
        return None
    if rule == DEVICE:
        if device_authenticator is not None and device_authenticator():
            return None
        return error_response(401, "device_key_required", "需要有效的设备密钥。")
    if not current_user.is_authenticated:
        if request.path.startswith("/api/") or request.method not in ("GET", "HEAD"):
            return error_response(401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if rule == LOGIN:
        return None
    if rule.startswith("role:") and has_role(current_user, rule[5:]):
        return None
    return error_response(403)


def init_app(app: Flask) -> None:
    @app.before_request
    def enforce_access():
        return check_access(request.endpoint)
