"""Home page, /favicon.ico and /healthz."""

from __future__ import annotations

import os
from functools import cache

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_login import current_user
from sqlalchemy import text

from dangxiao.access import PUBLIC
from dangxiao.accounts.permissions import has_role
from dangxiao.extensions import db

bp = Blueprint("main", __name__)
ACCESS = {"index": PUBLIC, "healthz": PUBLIC, "favicon": PUBLIC}

SECTIONS = [
    ("school.index", "网上党校", "必修课、选修课视频学习，在线测试，学时统计。"),
    ("forum.index", "党建论坛", "交流学习体会，分享支部工作经验。"),
    ("helpdesk.index", "流动党员之家", "组织关系转接、就近参加组织生活，求助有人应。"),
    ("live.index", "在线答疑", "专家在线实时解答党员群众关心的问题。"),
]

LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
#: Headers a reverse proxy adds; seen on a loopback request they mean "from nginx, not from this machine".
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@bp.route("/")
def index():
    return render_template("main/index.html", sections=SECTIONS)


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on every page whatever the <link rel="icon"> says.

    Served from memory (5 KB, read once): browsers often drop this request half-way, and a
    file opened by send_file for a dropped or 304 response is left for the garbage collector.
    """
    response = Response(_favicon(), mimetype="image/vnd.microsoft.icon")
    response.cache_control.public = True
    response.cache_control.max_age = 7 * 86400
    response.add_etag()
    return response.make_conditional(request)


@cache
def _favicon() -> bytes:
    folder = current_app.static_folder or os.path.join(current_app.root_path, "static")
    with open(os.path.join(folder, "favicon.ico"), "rb") as icon:
        return icon.read()


def database_status() -> dict:
    """A real round trip to the database, so a broken connection shows up here first."""
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "backend": db.engine.dialect.name}
    except Exception as exc:  # noqa: BLE001 — health checks report, they do not raise
        db.session.rollback()
        return {"ok": False, "backend": db.engine.dialect.name, "error": type(exc).__name__}


def search_status() -> dict:
    """The search engine and how many documents it holds (`flask search reindex` fills it)."""
    from dangxiao.search.service import status

    try:
        return {"ok": True, **status()}
    except Exception as exc:  # noqa: BLE001 — health checks report, they do not raise
        db.session.rollback()
        return {"ok": False, "error": type(exc).__name__}


def from_this_machine() -> bool:
    """A direct request from the server itself (a monitoring script, `curl` over ssh).

    Behind nginx with TRUSTED_PROXIES set, ProxyFix has already replaced remote_addr with the
    real client's address. Without it every proxied visitor would come from 127.0.0.1, so a
    loopback request carrying a proxy's forwarding header never counts as local.
    """
    if request.remote_addr not in LOOPBACK:
        return False
    return not any(name in request.headers for name in PROXY_HEADERS)


def may_see_health_details() -> bool:
    return from_this_machine() or has_role(current_user, "admin")


@bp.route("/healthz")
def healthz():
    """200/503 with {"status": "ok"|"error"} for everyone; the checks only for admins and localhost.

    The details (database backend, queue counts, free disk bytes, search index size) help an
    attacker more than a load balancer, which needs only the status code.
    """
    from media.health import media_status, queue_status

    checks = {"database": database_status(), "queue": queue_status(), "media": media_status()}
    ok = all(c["ok"] for c in checks.values())
    body: dict = {"status": "ok" if ok else "error"}
    if may_see_health_details():
        # Details only (a count is not free on a big index), and not part of "ok": a broken
        # index degrades search alone, the load balancer must keep sending the rest.
        checks["search"] = search_status()
        body["checks"] = checks
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response
