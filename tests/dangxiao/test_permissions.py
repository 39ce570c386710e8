"""The one permission helper: roles, implied roles and branch-subtree scopes."""

from __future__ import annotations

from dangxiao.accounts.models import User
from dangxiao.accounts.permissions import has_role, scope_roots
from dangxiao.extensions import db


def test_scoped_secretary_covers_only_their_subtree(ctx, create_branch, create_user):
    town = create_branch("城关镇党总支", "general_branch")
    east = create_branch("东街村", parent=town)
    other = create_branch("青山乡")
    user = db.session.get(User, create_user("sec", roles=[("branch_secretary", town)]))
    assert has_role(user, "branch_secretary")
    assert has_role(user, "branch_secretary", east)
    assert has_role(user, "branch_secretary", town)
    assert not has_role(user, "branch_secretary", other)
    assert scope_roots(user, "branch_secretary") == [town]


def test_admin_implies_every_role_everywhere(ctx, create_branch, create_user):
    branch = create_branch()
    user = db.session.get(User, create_user("root", roles=["admin"]))
    for role in ("member", "moderator", "branch_secretary", "admin"):
        assert has_role(user, role, branch)
    assert scope_roots(user, "moderator") is None


def test_member_is_not_a_moderator(ctx, create_user):
    user = db.session.get(User, create_user("plain"))
    assert has_role(user, "member")
    assert not has_role(user, "moderator")
    assert scope_roots(user, "moderator") == []


def test_disabled_user_holds_no_roles(ctx, create_user):
    user = db.session.get(User, create_user("off", roles=["admin"], status="disabled"))
    assert not has_role(user, "admin")


def test_anonymous_holds_no_roles(ctx):
    assert not has_role(None, "member")
