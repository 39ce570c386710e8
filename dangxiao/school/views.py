"""网上党校 pages (course catalogue lands with its issue)."""

from __future__ import annotations

from flask import Blueprint, render_template

from dangxiao.access import PUBLIC

bp = Blueprint("school", __name__, url_prefix="/school")
ACCESS = {"index": PUBLIC}


@bp.route("/")
def index():
    return render_template(
        "main/coming_soon.html",
        title="网上党校",
        intro="课程目录、视频课件、在线测试和学时统计即将开放。",
    )
