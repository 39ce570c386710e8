"""在线答疑 list and session forms (stub until written)."""

from __future__ import annotations

from flask import Blueprint, render_template

from dangxiao.access import PUBLIC

bp = Blueprint("live", __name__, url_prefix="/live")
ACCESS = {"index": PUBLIC}


@bp.route("/")
def index():
    return render_template("main/coming_soon.html", title="在线答疑", intro="在线实时答疑即将开放。")
