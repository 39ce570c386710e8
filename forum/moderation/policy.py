"""Moderation policy rules (see dangxiao.policy)."""

from __future__ import annotations

from typing import Any

from dangxiao.accounts.models import Role
from dangxiao.accounts.permissions import has_role
from dangxiao.policy import rule


@rule("moderation.manage")
def manage(actor: Any, _obj: Any = None) -> bool:
    """Add, change, import and export moderation rules: moderators and admins."""
    return has_role(actor, Role.moderator)
