"""Home page and /healthz."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from dangxiao.access import PUBLIC
from dangxiao.extensions import db

bp = Blueprint("main", __name__)
ACCESS = {"index": PUBLIC, "healthz": PUBLIC}

SECTIONS = [
    ("school.index", "网上党校", "必修课、选修课视频学习，在线测试，学时统计。"),
    ("forum.index", "党建论坛", "交流学习体会，分享支部工作经验。"),
    ("helpdesk.index", "流动党员之家", "组织关系转接、就近参加组织生活，求助有人应。"),
    ("live.index", "在线答疑", "专家在线实时解答党员群众关心的问题。"),
]


@bp.route("/")
def index():
    return render_template("main/index.html", sections=SECTIONS)


def database_status() -> dict:
    """A real round trip to the database, so a broken connection shows up here first."""
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "backend": db.engine.dialect.name}
    except Exception as exc:  # noqa: BLE001 — health checks report, they do not raise
        db.session.rollback()
        return {"ok": False, "backend": db.engine.dialect.name, "error": type(exc).__name__}


@bp.route("/healthz")
def healthz():
    from media.health import media_status, queue_status

    checks = {"database": database_status(), "queue": queue_status(), "media": media_status()}
    ok = all(c["ok"] for c in checks.values())
    return jsonify(status="ok" if ok else "error", checks=checks), 200 if ok else 503
