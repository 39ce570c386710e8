"""Routing: the most specific route wins; a home-branch route; nothing matching is the admins' queue."""

from __future__ import annotations

from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum.helpdesk import handlers, routing
from forum.helpdesk.models import HelpRoute
from tests.forum.helpdesk.support import file, notes, user


def test_the_most_specific_route_wins(ctx, create_branch):
    default, gd, sz, baoan, sz_transfer = (create_branch(n) for n in ("默认", "广东", "深圳", "宝安", "深圳转接"))
    with atomic():
        db.session.add_all(
            [
                HelpRoute(region_prefix="", target_branch_id=default),
                HelpRoute(region_prefix="44", target_branch_id=gd),
                HelpRoute(region_prefix="4403", target_branch_id=sz),
                HelpRoute(region_prefix="4403", category="transfer", target_branch_id=sz_transfer),
                HelpRoute(region_prefix="440306", category="dues", target_branch_id=baoan),
                HelpRoute(region_prefix="4419", category="transfer", to_home_branch=True),
            ]
        )
    home = 4242

    def target(category: str, code: str):
        return routing.resolve(category, code, home)[0]

    assert target("dues", "440306") == baoan  # longest prefix
    assert target("transfer", "440306") == sz_transfer  # category beats any-category at 4403
    assert target("org_life", "440306") == sz
    assert target("org_life", "440103") == gd
    assert target("dues", "110101") == default
    assert target("transfer", "441900003") == home  # 东莞 transfers start at the home branch
    assert target("dues", "441900003") == gd
    with atomic():
        db.session.query(HelpRoute).filter(HelpRoute.region_prefix == "").delete()
    assert routing.resolve("dues", "110101", home) == (None, None)


def test_unrouted_requests_reach_the_admins(ctx, world):
    req = file(region="310101")
    assert (req.handling_branch_id, req.route_id) == (None, None)
    assert any(f"#{req.id}" in t for t in notes("admin"))
    assert handlers.handler_ids(None) == [user("admin").id]
    assert handlers.handler_ids(world.sz) == [user("sz_handler").id]
