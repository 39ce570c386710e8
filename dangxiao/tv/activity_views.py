"""Station activity pages for secretaries: the month per station, one station's plays, and
turning a group session into offline credits. Which branch a secretary may see is the
policy's answer (``tv.view_activity`` / ``tv.credit_play``); the access rows only keep
members out."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dangxiao.access import role
from dangxiao.errors import DomainError
from dangxiao.exports import safe_cell
from dangxiao.queries import id_arg
from dangxiao.school import credits, reports
from dangxiao.templating import local_today, localtime
from dangxiao.transactions import atomic
from dangxiao.tv import activity

bp = Blueprint("tv_activity", __name__, url_prefix="/school/stations")
SECRETARY = role("branch_secretary")
BLUEPRINTS = [
    (bp, {"index": SECRETARY, "export_csv": SECRETARY, "station": SECRETARY, "credit": SECRETARY}, False),
]
CSV_HEADERS = (
    "接收站点",
    "村（社区）",
    "所属组织",
    "状态",
    "播放次数",
    "观看时长（小时）",
    "集中学习场次",
    "参学人次",
    "课时数",
    "最近在线",
)


def _month() -> date:
    return activity.parse_month(request.args.get("month"))


def _month_arg(month: date) -> str:
    return month.strftime("%Y-%m")


def _index_data():
    branch = activity.resolve_branch(current_user, id_arg(request.args.get("branch")))
    month = _month()
    rows = activity.station_month(current_user, branch.id, month)
    return branch, month, rows


@bp.get("/", endpoint="index")
def index():
    branch, month, rows = _index_data()
    return render_template(
        "tv_activity/index.html",
        branch=branch,
        month=_month_arg(month),
        this_month=_month_arg(local_today()),
        rows=rows,
        totals=activity.totals(rows),
        branch_options=reports.branch_options(current_user),
    )


@bp.get("/export.csv", endpoint="export_csv")
def export_csv():
    """UTF-8 with a BOM (Excel on Windows), user-typed names guarded against formulas."""
    branch, month, rows = _index_data()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADERS)
    for r in rows:
        writer.writerow(
            [
                safe_cell(r.name),
                safe_cell(r.village),
                safe_cell(r.branch_name),
                "正常" if r.active else "已停用",
                r.plays,
                r.hours,
                r.sessions,
                r.attendees,
                r.lessons,
                localtime(r.last_seen_at) if r.last_seen_at else "",
            ]
        )
    t = activity.totals(rows)
    writer.writerow(["合计", "", "", f"{t.stations} 个站点", t.plays, t.hours, t.sessions, t.attendees, "", ""])
    name = f"stations-{branch.id}-{_month_arg(month)}.csv"
    return Response(
        buffer.getvalue().encode("utf-8-sig"),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/<int:device_id>", endpoint="station")
def station(device_id: int):
    device = activity.get_station(current_user, device_id)
    month = _month()
    return render_template(
        "tv_activity/station.html",
        device=device,
        month=_month_arg(month),
        this_month=_month_arg(local_today()),
        plays=activity.plays_for(current_user, device.id, month),
        share=int(activity.MIN_SHARE * 100),
    )


def _credit_page(play, form: dict, status: int = 200):
    lesson = play.lesson
    return (
        render_template(
            "tv_activity/credit.html",
            play=play,
            lesson=lesson,
            month=localtime(play.started_at, "%Y-%m"),
            members=activity.eligible_members(play),
            credited=activity.credited_ids(play.id),
            creditable=float(play.seconds or 0) >= activity.MIN_SHARE * float(lesson.duration or 0),
            share=int(activity.MIN_SHARE * 100),
            default_amount=credits.fmt(activity.default_amount(lesson)),
            form=form,
        ),
        status,
    )


@bp.route("/plays/<int:play_id>/credit", methods=["GET", "POST"], endpoint="credit")
def credit(play_id: int):
    play = activity.get_play(current_user, play_id)
    if request.method == "GET":
        return _credit_page(play, {"member_ids": set(), "amount": "", "note": ""})
    form = {
        "member_ids": set(request.form.getlist("member_ids")),
        "amount": request.form.get("amount", ""),
        "note": request.form.get("note", ""),
    }
    try:
        with atomic():
            entries = activity.credit_group_session(
                current_user, play.id, request.form.getlist("member_ids"), form["amount"] or None, form["note"]
            )
            count = len(entries)
    except DomainError as error:
        if error.status != 400:
            raise
        flash(error.message, "error")
        return _credit_page(activity.get_play(current_user, play_id), form, 400)
    flash(f"已为 {count} 名党员登记学时。", "success")
    return redirect(url_for(".station", device_id=play.device_id, month=localtime(play.started_at, "%Y-%m")))
