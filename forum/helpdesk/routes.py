"""The routing table admins keep: (category, region) → the organisation that handles it.

Validated here, not in the page, so the demo seed, a CLI and the pages refuse the same
things with the same Chinese message: an unknown region code or organisation, a route with
neither a target nor "党员所在支部", and a second route for the same category and region
(routing picks one route per pair: a duplicate would make the choice arbitrary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from dangxiao.accounts.models import Branch
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.text.clean import clean_line
from forum.helpdesk import regions
from forum.helpdesk.models import HelpCategory, HelpRequest, HelpRoute, RequestStatus

NOTE_MAX = 100
FIELDS = ("category", "region_prefix", "target_branch_id", "to_home_branch", "note")
ANY_CATEGORY = "全部类别"
EVERYWHERE = "全国"
DEFAULT_QUEUE = "全国（默认队列）"
HOME_BRANCH = "党员所在支部"
OPEN_STATUSES = (RequestStatus.pending, RequestStatus.in_progress, RequestStatus.answered)


def _category(raw: Any) -> HelpCategory | None:
    """None (every category) for ""/None/"all"/全部; else a category by value or label."""
    if raw is None or isinstance(raw, HelpCategory):
        return raw
    if not isinstance(raw, str):
        raise DomainError("未知的问题类别。", "category_invalid", "category")
    text = raw.strip()
    if text in ("", "all", "全部", ANY_CATEGORY):
        return None
    for c in HelpCategory:
        if text in (c.value, c.label):
            return c
    raise DomainError("未知的问题类别。", "category_invalid", "category")


def _target(raw: Any) -> int | None:
    if raw in (None, "", 0, "0"):
        return None
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit() and len(raw.strip()) <= 10:
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or db.session.get(Branch, raw) is None:
        raise DomainError("所选的处理组织不存在。", "branch_missing", "target_branch_id")
    return raw


def _validated(values: dict[str, Any], route_id: int | None) -> dict[str, Any]:
    category = _category(values.get("category"))
    prefix = regions.validate_prefix(values.get("region_prefix", ""))
    to_home = bool(values.get("to_home_branch"))
    target = None if to_home else _target(values.get("target_branch_id"))
    if not to_home and target is None:
        raise DomainError("请选择处理组织，或选择“党员所在支部”。", "target_required", "target_branch_id")
    note = clean_line(values.get("note", ""), "note", "备注", NOTE_MAX, required=False)
    same = select(HelpRoute.id).where(
        HelpRoute.category.is_(None) if category is None else HelpRoute.category == category,
        HelpRoute.region_prefix == prefix,
    )
    if route_id is not None:
        same = same.where(HelpRoute.id != route_id)
    if db.session.scalar(same.limit(1)) is not None:
        raise DomainError(
            f"“{category_label(category)} · {region_label(prefix, category)}”已有路由规则，请修改原规则。",
            "route_duplicate",
            "region_prefix",
        )
    return {
        "category": category,
        "region_prefix": prefix,
        "target_branch_id": target,
        "to_home_branch": to_home,
        "note": note,
    }


# --- labels ------------------------------------------------------------------------------------


def category_label(category: HelpCategory | None) -> str:
    return category.label if category is not None else ANY_CATEGORY


def region_label(prefix: str, category: HelpCategory | None = None) -> str:
    """The region's names; "" is 全国, and the any-category route there is the default queue."""
    if prefix:
        return regions.label(prefix)
    return DEFAULT_QUEUE if category is None else EVERYWHERE


def target_label(route: HelpRoute) -> str:
    if route.to_home_branch:
        return HOME_BRANCH
    return route.target_branch.full_name if route.target_branch is not None else "—"


# --- services ----------------------------------------------------------------------------------


def list_routes() -> list[HelpRoute]:
    """Every route, broad to specific: by region prefix, any-category before a category."""
    rows = db.session.scalars(select(HelpRoute)).all()
    order = {c: i for i, c in enumerate(HelpCategory)}
    return sorted(rows, key=lambda r: (r.region_prefix, -1 if r.category is None else order[r.category], r.id))


def get_route(route_id: int) -> HelpRoute:
    route = db.session.get(HelpRoute, route_id) if isinstance(route_id, int) else None
    if route is None:
        raise NotFound("路由规则不存在。")
    return route


def add_route(
    actor: Any,
    category: str | HelpCategory | None,
    region_prefix: str,
    target_branch_id: int | None,
    to_home_branch: bool = False,
    note: str = "",
) -> HelpRoute:
    require(actor, "help.routes")
    values = _validated(
        {
            "category": category,
            "region_prefix": region_prefix,
            "target_branch_id": target_branch_id,
            "to_home_branch": to_home_branch,
            "note": note,
        },
        None,
    )
    route = HelpRoute(**values)
    db.session.add(route)
    db.session.flush()
    return route


def update_route(actor: Any, route_id: int, **fields: Any) -> HelpRoute:
    """Change any of category, region_prefix, target_branch_id, to_home_branch, note.

    Requests already routed keep their organisation: a route decides where new ones go.
    """
    require(actor, "help.routes")
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown route fields: {sorted(unknown)}")
    route = get_route(route_id)
    current = {field: getattr(route, field) for field in FIELDS}
    values = _validated({**current, **fields}, route.id)
    for field, value in values.items():
        setattr(route, field, value)
    db.session.flush()
    db.session.refresh(route, ["target_branch"])
    return route


def delete_route(actor: Any, route_id: int) -> str:
    """Delete a route (its requests stay where they are); returns its description for the message."""
    require(actor, "help.routes")
    route = get_route(route_id)
    described = describe(route)
    db.session.execute(
        HelpRequest.__table__.update().where(HelpRequest.route_id == route.id).values(route_id=None)
    )  # SQLite without foreign-key enforcement would keep a dangling id
    db.session.delete(route)
    db.session.flush()
    return described


def describe(route: HelpRoute) -> str:
    region = region_label(route.region_prefix, route.category)
    return f"{category_label(route.category)} · {region} → {target_label(route)}"


# --- the list page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteRow:
    route: HelpRoute
    category: str
    region: str
    target: str
    open_requests: int


def open_counts() -> dict[int, int]:
    """Route id → requests routed by it that are not yet ended (what the route currently holds)."""
    rows = db.session.execute(
        select(HelpRequest.route_id, func.count(HelpRequest.id))
        .where(HelpRequest.route_id.is_not(None), HelpRequest.status.in_(OPEN_STATUSES))
        .group_by(HelpRequest.route_id)
    ).all()
    return {route_id: count for route_id, count in rows}


def route_rows() -> list[RouteRow]:
    counts = open_counts()
    return [
        RouteRow(
            r,
            category_label(r.category),
            region_label(r.region_prefix, r.category),
            target_label(r),
            counts.get(r.id, 0),
        )
        for r in list_routes()
    ]
