"""Statistics and hot topics for leaders (admins, branch secretaries, moderators: policy help.stats).

The access table only asks for a login; which roles may read the numbers is the policy's
question (forum.helpdesk.policy "help.stats"), asked first thing in every view.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user

from dangxiao.access import LOGIN
from dangxiao.policy import require
from dangxiao.templating import local_today
from dangxiao.transactions import atomic
from forum.helpdesk import hot, stats

bp = Blueprint("help_stats", __name__, url_prefix="/help/stats")
ACCESS = {"index": LOGIN, "export": LOGIN, "hot": LOGIN}

HOT_DAYS = (7, 30, 90)
MAX_RANGE_DAYS = 5 * 366
REFUSAL = "只有管理员、支部书记和版主可以查看求助统计。"


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(raw) if raw and len(raw) == 10 else None
    except ValueError:
        return None


def _filters() -> tuple[date, date, int]:
    """(from, to, region level) from the query string; bad or missing values fall back to the last 12 months."""
    default_from, default_to = stats.default_range()
    date_to = min(_date_arg("to") or default_to, local_today())
    date_from = _date_arg("from") or default_from
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    date_from = max(date_from, date_to - timedelta(days=MAX_RANGE_DAYS))
    level = 2 if request.args.get("level") == "2" else 1
    return date_from, date_to, level


def _args(date_from: date, date_to: date, level: int) -> dict[str, str | int]:
    return {"from": date_from.isoformat(), "to": date_to.isoformat(), "level": level}


@bp.get("/")
def index():
    require(current_user, "help.stats", None, REFUSAL)
    date_from, date_to, level = _filters()
    rep = stats.report(date_from, date_to, level)
    return render_template(
        "helpdesk/stats.html",
        report=rep,
        args=_args(date_from, date_to, level),
        chart=stats.chart_data(rep.months),
    )


@bp.get("/export.<fmt>")
def export(fmt: str):
    require(current_user, "help.stats", None, REFUSAL)
    if fmt not in ("csv", "xlsx"):
        abort(404)
    date_from, date_to, level = _filters()
    rep = stats.report(date_from, date_to, level)
    if fmt == "csv":
        body, mimetype = stats.export_csv(rep), "text/csv; charset=utf-8"
    else:
        body, mimetype = stats.export_xlsx(rep), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"help-stats-{date_from.isoformat()}-{date_to.isoformat()}.{fmt}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/hot", endpoint="hot")
def hot_page():
    require(current_user, "help.stats", None, REFUSAL)
    raw = request.args.get("days", "")
    days = int(raw) if raw in {str(d) for d in HOT_DAYS} else hot.default_days()
    with atomic():  # hot_topics stores the terms of texts it has not seen yet
        topics = hot.hot_topics(days)
    return render_template(
        "helpdesk/hot.html",
        topics=topics,
        days=days,
        day_options=sorted(set(HOT_DAYS) | {days}),
        chart=hot.chart_data(topics),
        since=local_today() - timedelta(days=days),
    )
