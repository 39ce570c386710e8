"""The help-desk service tests' shared world: a member's home branch under a committee, a 深圳
organisation and a 北京 one with routes to them, their handlers, a moderator of the committee
(moderates the member, handles nothing) and an admin."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum.helpdesk.models import HelpRoute


@pytest.fixture
def world(app, create_branch, create_user):
    committee = create_branch("县委", kind="committee")
    home = create_branch("老家支部", parent=committee)
    sz = create_branch("深圳流动党员党支部")
    bj = create_branch("北京流动党员党支部")
    ids = {
        "zhaoliu": create_user("zhaoliu", branch=home),
        "other": create_user("other", branch=home),
        "sz_handler": create_user("sz_handler", roles=[("moderator", sz)], branch=sz),
        "bj_handler": create_user("bj_handler", roles=[("branch_secretary", bj)], branch=bj),
        "mod": create_user("mod", roles=[("moderator", committee)], branch=committee),
        "admin": create_user("admin", roles=["admin"]),
    }
    with app.app_context(), atomic():
        db.session.add_all(
            [HelpRoute(region_prefix="4403", target_branch_id=sz), HelpRoute(region_prefix="11", target_branch_id=bj)]
        )
    return SimpleNamespace(committee=committee, home=home, sz=sz, bj=bj, **{f"{k}_id": v for k, v in ids.items()})
