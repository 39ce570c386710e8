"""Pages for 学时: my credits (+ xAPI export), the branch report for secretaries, the rules for admins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from dangxiao.access import LOGIN, role
from dangxiao.accounts.models import User
from dangxiao.errors import DomainError
from dangxiao.policy import require
from dangxiao.queries import get_or_404, id_arg
from dangxiao.school import credit_rules, credits, reports, xapi
from dangxiao.school.credit_models import CreditEntry
from dangxiao.transactions import atomic

bp = Blueprint("credits", __name__, url_prefix="/school/credits")
reports_bp = Blueprint("school_reports", __name__, url_prefix="/school/reports")
admin_bp = Blueprint("credit_admin", __name__, url_prefix="/admin/school/credits")

SECRETARY = role("branch_secretary")
BLUEPRINTS = [
    (bp, {"index": LOGIN, "xapi_json": LOGIN}),
    (
        reports_bp,
        {
            "index": SECRETARY,
            "export_csv": SECRETARY,
            "export_xlsx": SECRETARY,
            "member": SECRETARY,
            "offline": SECRETARY,
            "reverse": SECRETARY,
        },
    ),
    (admin_bp, {"rules": role("admin")}),
]


@bp.app_template_global("credit_summary")
def credit_summary(user: Any = None, year: int | None = None) -> dict[str, Any]:
    """For templates/school/_credit_bar.html: the progress toward this year's requirement."""
    return credits.summary(user or current_user, year)


@bp.app_template_filter("credit")
def credit_filter(value: Any) -> str:
    """1.50 → "1.5", 2.00 → "2" (学时 as people write them)."""
    return credits.fmt(value)


def _year_arg(default: int | None = None) -> int:
    value = id_arg(request.args.get("year"))
    this_year = credits.current_year()
    if value is None or not 2000 <= value <= this_year + 1:
        return default or this_year
    return value


# --- my credits -------------------------------------------------------------------------------


@bp.get("/")
def index():
    year = _year_arg()
    return render_template(
        "school/credits.html",
        year=year,
        years=credits.years(current_user.id),
        summary=credits.summary(current_user, year),
        entries=credits.entries(current_user.id, year),
        reversed_ids=credits.reversed_ids(current_user.id),
    )


@bp.get("/xapi.json")
def xapi_json():
    response = jsonify(xapi.statement_result(current_user))
    response.headers["X-Experience-API-Version"] = "1.0.3"
    response.headers["Content-Disposition"] = 'attachment; filename="xapi-statements.json"'
    return response


# --- branch report ----------------------------------------------------------------------------


def _report_args() -> tuple[int | None, int, str]:
    sort = request.args.get("sort", "name")
    branch_id = id_arg(request.args.get("branch_id") or request.args.get("branch"))  # ?branch= is an alias
    return branch_id, _year_arg(), sort if sort in reports.SORTS else "name"


@reports_bp.get("/", endpoint="index")
def report_index():
    branch_id, year, sort = _report_args()
    report = reports.build(current_user, branch_id, year)
    members = reports.sorted_members(report, sort)
    pages = max((len(members) + reports.PAGE_SIZE - 1) // reports.PAGE_SIZE, 1)
    page = min(max(id_arg(request.args.get("page")) or 1, 1), pages)
    start = (page - 1) * reports.PAGE_SIZE
    return render_template(
        "school/report.html",
        report=report,
        sort=sort,
        page=page,
        pages=pages,
        members=members[start : start + reports.PAGE_SIZE],
        branch_options=reports.branch_options(current_user),
        years=list(range(credits.current_year(), 2019, -1)),
    )


def _download(body: bytes, mimetype: str, report: reports.Report, ext: str) -> Response:
    name = f"branch-report-{report.root.id}-{report.year}.{ext}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@reports_bp.get("/export.csv")
def export_csv():
    branch_id, year, sort = _report_args()
    report = reports.build(current_user, branch_id, year)
    return _download(reports.export_csv(report, sort), "text/csv; charset=utf-8", report, "csv")


@reports_bp.get("/export.xlsx")
def export_xlsx():
    branch_id, year, sort = _report_args()
    report = reports.build(current_user, branch_id, year)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(reports.export_xlsx(report, sort), xlsx, report, "xlsx")


def _member_page(member: User, status: int = 200, form: dict[str, str] | None = None):
    year = _year_arg()
    return (
        render_template(
            "school/report_member.html",
            member=member,
            year=year,
            years=credits.years(member.id),
            summary=credits.summary(member, year),
            entries=credits.entries(member.id, year),
            reversed_ids=credits.reversed_ids(member.id),
            activities=credits.OFFLINE_ACTIVITIES,
            form=form or {"year": str(credits.current_year()), "activity": "三会一课"},
            this_year=credits.current_year(),
        ),
        status,
    )


def _scoped_member(user_id: int) -> User:
    member = get_or_404(User, user_id, "党员不存在。")
    require(current_user, "school.credit_member", member, "该党员不在您的管理范围内。")
    return member


@reports_bp.get("/members/<int:user_id>")
def member(user_id: int):
    return _member_page(_scoped_member(user_id))


@reports_bp.post("/members/<int:user_id>/offline")
def offline(user_id: int):
    member = _scoped_member(user_id)
    form = {k: request.form.get(k, "") for k in ("amount", "activity", "reason", "year")}
    try:
        with atomic():
            entry = credits.record_offline(
                current_user, member, form["amount"], form["activity"], form["reason"], form["year"] or None
            )
            amount = credits.fmt(entry.amount)
    except DomainError as error:
        if error.status != 400:
            raise
        flash(error.message, "error")
        return _member_page(member, 400, form)
    flash(f"已为 {member.display_name} 记录线下学习 {amount} 学时。", "success")
    return redirect(url_for(".member", user_id=member.id, year=form["year"] or None))


@reports_bp.post("/entries/<int:entry_id>/reverse")
def reverse(entry_id: int):
    entry = get_or_404(CreditEntry, entry_id, "学时记录不存在。")
    member = _scoped_member(entry.user_id)
    year = entry.year
    try:
        with atomic():
            credits.reverse(current_user, entry, request.form.get("reason", ""))
    except DomainError as error:
        if error.status != 400:
            raise
        flash(error.message, "error")
        return redirect(url_for(".member", user_id=member.id, year=year))
    flash("已更正：添加了一条冲销记录。", "success")
    return redirect(url_for(".member", user_id=member.id, year=year))


# --- rules (admins) ---------------------------------------------------------------------------


@admin_bp.route("/", methods=["GET", "POST"])
def rules():
    status = 200
    values = credit_rules.as_form(credit_rules.current())
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in credit_rules.FIELDS}
        try:
            with atomic():
                credit_rules.save(current_user, values)
        except DomainError as error:
            if error.status != 400:
                raise
            flash(error.message, "error")
            status = 400
        else:
            flash("学时规则已保存，之后的学习按新规则计算。", "success")
            return redirect(url_for(".rules"))
    return (
        render_template(
            "school/credits_admin.html", values=values, fields=credit_rules.FIELDS, history=credit_rules.history()
        ),
        status,
    )
