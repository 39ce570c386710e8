"""Help-desk policy rules (see dangxiao.policy); the answers come from forum.helpdesk.handlers."""

from __future__ import annotations

from typing import Any

from dangxiao.accounts.models import Role
from dangxiao.accounts.permissions import has_role
from dangxiao.policy import is_system, rule
from forum.helpdesk import handlers
from forum.helpdesk.models import HelpRequest


@rule("help.file")
def file_request(actor: Any, obj: Any = None) -> bool:
    """A member with a branch: the branch is the request's home branch (a transfer starts there)."""
    return not is_system(actor) and getattr(actor, "branch_id", None) is not None


@rule("help.view")
def view(actor: Any, req: Any) -> bool:
    return isinstance(req, HelpRequest) and handlers.may_view(actor, req)


@rule("help.handle")
def handle(actor: Any, req: Any) -> bool:
    return isinstance(req, HelpRequest) and handlers.handles(actor, req)


@rule("help.templates")
def templates(actor: Any, obj: Any = None) -> bool:
    """Answer templates and the FAQ: admins and anyone who handles requests somewhere."""
    return handlers.is_handler_anywhere(actor)


@rule("help.routes")
def routes(actor: Any, obj: Any = None) -> bool:
    return handlers.is_admin(actor)


@rule("help.stats")
def stats(actor: Any, obj: Any = None) -> bool:
    """Leaders: admins, and any 支部书记 or 版主 (whatever the scope)."""
    return has_role(actor, Role.admin) or has_role(actor, Role.branch_secretary) or has_role(actor, Role.moderator)
