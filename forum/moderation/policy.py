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


@rule("moderation.audit")
def audit(actor: Any, _obj: Any = None) -> bool:
    """Browse and export the moderation audit log: admins only (it names every moderator's actions)."""
    return has_role(actor, Role.admin)


@rule("moderation.queue")
def queue(actor: Any, _obj: Any = None) -> bool:
    """Open the review queue: anyone who moderates something (a board moderator may hold no 版主 role)."""
    from forum.boards import is_moderator_anywhere

    return is_moderator_anywhere(actor)
