"""Placeholder: being written."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("helpdesk", __name__, url_prefix="/help")
ACCESS: dict[str, str] = {}


@bp.route("/")
def index():
    from flask import render_template

    return render_template("main/coming_soon.html", title="流动党员之家", intro="即将开放。")


ACCESS["index"] = "public"
