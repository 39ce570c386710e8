"""Admin pages for the help-desk routing table: list with an add form, edit, delete.

The region picker is three selects (省/市/县, any level may stay empty: a route for a whole
province or the whole country). The page renders the options of the levels already chosen,
so it works without JavaScript (the "显示下级地区" button reloads the form without saving);
static/js/help-routes.js fills the next level from /help/regions/<code> as the admin picks.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dangxiao.access import role
from dangxiao.accounts import branches as branch_service
from dangxiao.errors import DomainError
from dangxiao.transactions import atomic
from forum.helpdesk import regions
from forum.helpdesk import routes as route_service
from forum.helpdesk.models import HelpCategory, HelpRoute

bp = Blueprint("help_routes", __name__, url_prefix="/admin/help")
ADMIN = role("admin")
ACCESS = {view: ADMIN for view in ("routes", "route_edit", "route_delete")}
LEVELS = ("province", "city", "county")
HOME = "home"


def _picked_region(form: Any) -> str:
    """The finest level chosen; a lower level that does not belong to the one above is refused."""
    chosen = [(form.get(level) or "").strip() for level in LEVELS]
    code = ""
    for value in chosen:
        if not value:
            break
        if code and not value.startswith(code):
            raise DomainError("所选地区不一致，请重新选择。", "region_invalid", "region_prefix")
        code = value
    return code


def _values(form: Any) -> dict[str, Any]:
    target = (form.get("target") or "").strip()
    return {
        "category": form.get("category", ""),
        "region_prefix": _picked_region(form),
        "to_home_branch": target == HOME,
        "target_branch_id": None if target in ("", HOME) else target,
        "note": form.get("note", ""),
    }


def _state(route: HelpRoute | None, form: Any | None) -> dict[str, Any]:
    """What the form shows: the submitted values after an error or a reload, else the route's."""
    if form is not None:
        chosen = [(form.get(level) or "").strip() for level in LEVELS]
        return {
            "category": form.get("category", ""),
            "chosen": chosen,
            "target": (form.get("target") or "").strip(),
            "note": form.get("note", ""),
        }
    if route is None:
        return {"category": "", "chosen": ["", "", ""], "target": "", "note": ""}
    chain = [r.code for r in regions.path(route.region_prefix)] if route.region_prefix else []
    return {
        "category": route.category.value if route.category else "",
        "chosen": (chain + ["", "", ""])[:3],
        "target": HOME if route.to_home_branch else str(route.target_branch_id or ""),
        "note": route.note,
    }


def _picker(chosen: list[str]) -> list[dict[str, Any]]:
    """The three selects: each level's options (the children of the level above, when one is chosen)."""
    levels = []
    options = [(r.code, r.name) for r in regions.provinces()]
    for level, label, value in zip(LEVELS, ("省（自治区、直辖市）", "市（地区、州）", "县（区）"), chosen, strict=True):
        known = value in {code for code, _ in options}
        levels.append({"name": level, "label": label, "options": options, "value": value if known else ""})
        options = [(r.code, r.name) for r in regions.children(value)] if known and value else []
    return levels


def _context(route: HelpRoute | None, form: Any | None) -> dict[str, Any]:
    state = _state(route, form)
    return {
        "state": state,
        "picker": _picker(state["chosen"]),
        "categories": HelpCategory.choices(),
        "branches": [(b.id, "　" * depth + b.name) for b, depth in branch_service.tree_rows()],
        "home": HOME,
        "any_category": route_service.ANY_CATEGORY,
        "home_label": route_service.HOME_BRANCH,
        "regions_url": _regions_url(),
    }


def _regions_url() -> str:
    """The member pages' region JSON (/help/regions/<code>); the script appends "/<code>"."""
    return url_for("helpdesk.regions")


def _save(route: HelpRoute | None):
    """Save the submitted route; on a refusal the form comes back with what was typed (400)."""
    try:
        with atomic():
            values = _values(request.form)
            if route is None:
                saved = route_service.add_route(current_user, **values)
            else:
                saved = route_service.update_route(current_user, route.id, **values)
            described = route_service.describe(saved)
    except DomainError as error:
        return None, error.message
    flash(f"已保存路由规则：{described}。", "success")
    return redirect(url_for("help_routes.routes")), None


@bp.route("/routes/", methods=["GET", "POST"])
def routes():
    error = None
    form = None
    if request.method == "POST":
        form = request.form
        if "reload" not in request.form:
            done, error = _save(None)
            if done is not None:
                return done
    return render_template(
        "helpdesk/routes.html", rows=route_service.route_rows(), error=error, **_context(None, form)
    ), (400 if error else 200)


@bp.route("/routes/<int:route_id>/edit", methods=["GET", "POST"])
def route_edit(route_id: int):
    route = route_service.get_route(route_id)
    error = None
    form = None
    if request.method == "POST":
        form = request.form
        if "reload" not in request.form:
            done, error = _save(route)
            if done is not None:
                return done
    return render_template(
        "helpdesk/routes_edit.html",
        route=route,
        described=route_service.describe(route),
        error=error,
        **_context(route, form),
    ), (400 if error else 200)


@bp.route("/routes/<int:route_id>/delete", methods=["POST"])
def route_delete(route_id: int):
    try:
        with atomic():
            described = route_service.delete_route(current_user, route_id)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"已删除路由规则：{described}。", "success")
    return redirect(url_for("help_routes.routes"))
