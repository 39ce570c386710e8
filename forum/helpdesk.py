"""流动党员之家: flowing members' help requests (placeholder)."""

from __future__ import annotations

from flask import Blueprint, render_template

from dangxiao.access import PUBLIC

bp = Blueprint("helpdesk", __name__, url_prefix="/help")
ACCESS = {"index": PUBLIC}


@bp.route("/")
def index():
    return render_template(
        "main/coming_soon.html",
        title="流动党员之家",
        intro="组织关系转接、寻找就近党组织等求助服务即将开放。",
    )
