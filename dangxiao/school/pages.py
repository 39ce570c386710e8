"""Placeholder until the catalogue pages land in this issue."""

from __future__ import annotations

from flask import Blueprint, render_template

from dangxiao.access import PUBLIC

bp = Blueprint("school", __name__, url_prefix="/school")
BLUEPRINTS = [(bp, {"index": PUBLIC})]


@bp.route("/")
def index():
    return render_template("main/coming_soon.html", title="网上党校", intro="课程目录即将开放。")
