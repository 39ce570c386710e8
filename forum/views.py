"""党建论坛 boards and topics (placeholder until the forum issue lands)."""

from __future__ import annotations

from flask import Blueprint, render_template

from dangxiao.access import PUBLIC

bp = Blueprint("forum", __name__, url_prefix="/forum")
ACCESS = {"index": PUBLIC}


@bp.route("/")
def index():
    return render_template("main/coming_soon.html", title="党建论坛", intro="版块、主题讨论与内容审核即将开放。")
