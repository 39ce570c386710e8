"""Who may manage accounts and the organisation tree (rules for dangxiao.policy)."""

from __future__ import annotations

from typing import Any

from dangxiao.accounts.models import Role
from dangxiao.accounts.permissions import has_role
from dangxiao.policy import rule


@rule("user.create")
@rule("user.manage")
@rule("branch.manage")
def _admin_only(actor: Any, obj: Any) -> bool:
    return has_role(actor, Role.admin)


@rule("user.approve")
def _approve(actor: Any, target: Any) -> bool:
    """Admins decide any registration; a secretary those in the branches they look after."""
    if has_role(actor, Role.admin):
        return True
    branch_id = getattr(target, "branch_id", None)
    return branch_id is not None and has_role(actor, Role.branch_secretary, branch_id)


@rule("user.review")
def _review(actor: Any, obj: Any) -> bool:
    """Open the approvals queue at all (what is in it depends on the scope)."""
    return has_role(actor, Role.branch_secretary)


@rule("user.self")
def _self(actor: Any, target: Any) -> bool:
    return target is not None and getattr(actor, "id", None) == getattr(target, "id", object())
