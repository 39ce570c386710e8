"""The 通知 page, marking read, and a small JSON endpoint for the header badge."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user

from dangxiao.access import LOGIN
from dangxiao.forms_util import Form
from dangxiao.notifications import service
from dangxiao.transactions import atomic

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
api = Blueprint("notifications_api", __name__, url_prefix="/api/notifications")
ACCESS = {"index": LOGIN, "read": LOGIN, "read_all": LOGIN}
API_ACCESS = {"summary": LOGIN}


@bp.get("/")
def index():
    return render_template(
        "notifications/index.html",
        notes=service.recent(current_user.id),
        unread=service.unread_count(current_user.id),
        form=Form(),
    )


@bp.post("/<int:notification_id>/read")
def read(notification_id: int):
    """Mark one read and go where it points (or back to the list)."""
    if not Form().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("notifications.index"))
    with atomic():
        note = service.mark_read(current_user, notification_id)
        target = note.url
    return redirect(target or url_for("notifications.index"))


@bp.post("/read-all")
def read_all():
    if Form().validate_on_submit():
        with atomic():
            count = service.mark_all_read(current_user)
        flash(f"已将 {count} 条通知标为已读。" if count else "没有未读通知。", "success")
    return redirect(url_for("notifications.index"))


@api.get("")
def summary():
    notes = service.recent(current_user.id, 10)
    return jsonify(
        unread=service.unread_count(current_user.id),
        items=[
            {
                "id": n.id,
                "kind": n.kind,
                "text": n.text,
                "url": n.url,
                "read": not n.unread,
                "created_at": n.created_at.isoformat(),
            }
            for n in notes
        ],
    )
