"""Who handles and who may see a help request: the one answer views, services and lists share.

Handlers of an organisation B are the active users holding 版主 or 支部书记 scoped to B
exactly (not to an ancestor: a committee's moderator does not answer every branch's
requests unless a route or a hand-over sends them there), or holding one of those roles
unscoped while belonging to B. Admins handle everything, including the unrouted queue
(``handling_branch_id`` None).

A request is seen by its requester and its current handlers, nobody else. While it is
``held`` by the keyword review only the requester sees it — admins included: they decide
it in the shared review queue, not here. Invisible is 404, never 403 (existence is not
revealed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select

from dangxiao.accounts.models import Role, User, UserRole, UserStatus
from dangxiao.accounts.permissions import has_role
from dangxiao.errors import NotFound
from dangxiao.extensions import db
from dangxiao.policy import is_system
from forum.helpdesk.models import HelpCategory, HelpRequest, RequestStatus

HANDLER_ROLES = (Role.moderator, Role.branch_secretary)
NOT_VISIBLE = "求助不存在或您无权查看。"
ENDED = (RequestStatus.resolved, RequestStatus.closed)
_STATUSES = {s.value for s in RequestStatus}
_CATEGORIES = {c.value for c in HelpCategory}


def _active(actor: Any) -> bool:
    return (
        actor is not None
        and bool(getattr(actor, "is_authenticated", False))
        and bool(getattr(actor, "is_active", False))
    )


def is_admin(actor: Any) -> bool:
    """Admins (and the CLI's SYSTEM) handle every request and the unrouted queue."""
    return _active(actor) and (is_system(actor) or has_role(actor, Role.admin))


def handler_ids(branch_id: int | None) -> list[int]:
    """Ids of the active users who handle organisation `branch_id`; None: the admins (unrouted queue)."""
    if branch_id is None:
        condition: ColumnElement[bool] = UserRole.role == Role.admin
    else:
        condition = and_(
            UserRole.role.in_(HANDLER_ROLES),
            or_(
                UserRole.scope_branch_id == branch_id,
                and_(UserRole.scope_branch_id.is_(None), User.branch_id == branch_id),
            ),
        )
    stmt = (
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(User.status == UserStatus.active, condition)
        .distinct()
        .order_by(User.id)
    )
    return list(db.session.scalars(stmt))


def handled_branch_ids(actor: Any) -> set[int]:
    """The organisations `actor` handles through a role (admins' "everything" is not listed here)."""
    if not _active(actor) or is_system(actor):
        return set()
    out: set[int] = set()
    for held in getattr(actor, "roles", ()):
        if held.role not in HANDLER_ROLES:
            continue
        if held.scope_branch_id is not None:
            out.add(held.scope_branch_id)
        elif getattr(actor, "branch_id", None) is not None:
            out.add(actor.branch_id)
    return out


def is_handler_anywhere(actor: Any) -> bool:
    return is_admin(actor) or bool(handled_branch_ids(actor))


def handles(actor: Any, req: HelpRequest) -> bool:
    """Is `actor` a current handler of `req` (held requests have no handler yet)?"""
    if req is None or req.held or not _active(actor):
        return False
    return is_admin(actor) or (
        req.handling_branch_id is not None and req.handling_branch_id in handled_branch_ids(actor)
    )


def is_requester(actor: Any, req: HelpRequest) -> bool:
    return _active(actor) and req is not None and getattr(actor, "id", None) == req.requester_id


def may_view(actor: Any, req: HelpRequest) -> bool:
    return is_requester(actor, req) or handles(actor, req)


def _handling_clause(actor: Any) -> ColumnElement[bool]:
    """What `actor` handles as SQL ("todo"): an admin's own organisations plus the unrouted queue."""
    branches = handled_branch_ids(actor)
    clauses: list[ColumnElement[bool]] = []
    if branches:
        clauses.append(HelpRequest.handling_branch_id.in_(sorted(branches)))
    if is_admin(actor):
        clauses.append(HelpRequest.handling_branch_id.is_(None))
    if not clauses:
        return false()
    return and_(HelpRequest.held.is_(False), or_(*clauses))


def visible_stmt(
    actor: Any,
    *,
    scope: str = "mine",
    status: str | None = None,
    overdue: bool = False,
    category: str | None = None,
) -> Select:
    """``select(HelpRequest)`` for a list tab, newest activity first.

    "mine": the actor's own requests (held ones included); "todo": the requests the actor
    handles (for an admin: their organisations and the unrouted queue); "all": every
    non-held request, admins only (anyone else gets an empty list). `status` is a
    RequestStatus value or "open" (not ended); an unknown status or category is ignored.
    """
    from forum.helpdesk import sla

    stmt = select(HelpRequest).order_by(HelpRequest.updated_at.desc(), HelpRequest.id.desc())
    if not _active(actor):
        return stmt.where(false())
    if scope == "mine":
        stmt = stmt.where(HelpRequest.requester_id == getattr(actor, "id", None))
    elif scope == "todo":
        stmt = stmt.where(_handling_clause(actor))
    elif scope == "all" and is_admin(actor):
        stmt = stmt.where(HelpRequest.held.is_(False))
    else:
        return stmt.where(false())
    if status == "open":
        stmt = stmt.where(HelpRequest.status.notin_(ENDED))
    elif status in _STATUSES:
        stmt = stmt.where(HelpRequest.status == RequestStatus(status))
    if category in _CATEGORIES:
        stmt = stmt.where(HelpRequest.category == HelpCategory(category))
    if overdue:
        stmt = stmt.where(sla.overdue_clause())
    return stmt


def get_visible(actor: Any, request_id: Any) -> HelpRequest:
    """The request if `actor` may see it, else NotFound (the same answer for a missing one)."""
    try:
        key = int(request_id)
    except (TypeError, ValueError):
        raise NotFound(NOT_VISIBLE) from None
    req = db.session.get(HelpRequest, key) if 0 < key < 2**63 else None
    if req is None or not may_view(actor, req):
        raise NotFound(NOT_VISIBLE)
    return req


def handling_branches() -> list[tuple[int, str]]:
    """(id, full name) of the organisations a request can be handed over to: those with a handler,
    and route targets. Listing every branch would put a county's 1,200 on each request page."""
    from dangxiao.accounts.models import Branch
    from forum.helpdesk.models import HelpRoute

    scoped = select(UserRole.scope_branch_id).where(
        UserRole.role.in_(HANDLER_ROLES), UserRole.scope_branch_id.is_not(None)
    )
    own = (
        select(User.branch_id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_(HANDLER_ROLES), UserRole.scope_branch_id.is_(None), User.branch_id.is_not(None))
    )
    targets = select(HelpRoute.target_branch_id).where(HelpRoute.target_branch_id.is_not(None))
    ids = set(db.session.scalars(scoped)) | set(db.session.scalars(own)) | set(db.session.scalars(targets))
    if not ids:
        return []
    branches = db.session.scalars(select(Branch).where(Branch.id.in_(sorted(ids))))
    return sorted(((b.id, b.full_name) for b in branches), key=lambda pair: pair[1])
