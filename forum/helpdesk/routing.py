"""Which organisation handles a (category, region): the most specific HelpRoute wins.

A route matches when the request's region code starts with its ``region_prefix`` ("" is
everywhere) and its category is the request's or None (any). Most specific: the longest
prefix, then a category route over an any-category one at the same length. A route with
``to_home_branch`` sends the request to the requester's home branch (a transfer out
starts there); with neither target (or no home branch) the request is unrouted: the
admins' queue. No route at all is unrouted too.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from dangxiao.extensions import db
from forum.helpdesk.models import HelpCategory, HelpRoute


def best_route(category: HelpCategory | str, region_code: str) -> HelpRoute | None:
    category = HelpCategory(category)
    code = region_code or ""
    prefixes = [code[:n] for n in range(len(code) + 1)]  # the routes' index answers "prefix IN (...)"
    routes = db.session.scalars(
        select(HelpRoute).where(
            HelpRoute.region_prefix.in_(prefixes),
            or_(HelpRoute.category == category, HelpRoute.category.is_(None)),
        )
    ).all()
    if not routes:
        return None
    return max(routes, key=lambda r: (len(r.region_prefix or ""), r.category is not None, -r.id))


def resolve(
    category: HelpCategory | str, region_code: str, home_branch_id: int | None
) -> tuple[int | None, HelpRoute | None]:
    """(handling branch id or None for unrouted, the route that decided or None)."""
    route = best_route(category, region_code)
    if route is None:
        return None, None
    if route.to_home_branch:
        return home_branch_id, route
    return route.target_branch_id, route
