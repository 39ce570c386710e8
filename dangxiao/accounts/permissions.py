"""The one permission helper: views, Socket.IO handlers and the CLI all ask here."""

from __future__ import annotations

from typing import Any

from dangxiao.accounts.branches import ancestor_ids
from dangxiao.accounts.models import Role, User

# Roles implied by holding another: an admin may do what any other role may.
_IMPLIED = {Role.admin: {Role.moderator, Role.branch_secretary, Role.member}}


def has_role(user: Any, role: Role | str, branch_id: int | None = None) -> bool:
    """Does `user` hold `role`, and (if branch_id is given) does its scope cover that branch?

    A role with no scope covers every branch; a scoped role covers its branch and
    everything under it.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if getattr(user, "is_system", False) is True:  # the CLI operator (dangxiao.policy.SYSTEM)
        return True
    role = Role(role)
    ancestors: list[int] | None = None
    for held in user.roles:
        if not _covers(held.role, role):
            continue
        if held.scope_branch_id is None or branch_id is None:
            return True
        if ancestors is None:
            ancestors = ancestor_ids(branch_id)
        if held.scope_branch_id in ancestors:
            return True
    return False


def _covers(held: Role, wanted: Role) -> bool:
    return held == wanted or wanted in _IMPLIED.get(held, set())


def scope_roots(user: User, role: Role | str) -> list[int] | None:
    """Branch ids whose subtrees the user's `role` covers; None means everywhere."""
    role = Role(role)
    if getattr(user, "is_system", False) is True:
        return None
    roots: list[int] = []
    for held in user.roles:
        if not _covers(held.role, role):
            continue
        if held.scope_branch_id is None:
            return None
        roots.append(held.scope_branch_id)
    return roots
