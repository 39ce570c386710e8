"""Live Q&A policy rules (see dangxiao.policy): pages, Socket.IO handlers and services ask these."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dangxiao.accounts.branches import ancestor_ids
from dangxiao.accounts.models import Role
from dangxiao.accounts.permissions import has_role
from dangxiao.extensions import db
from dangxiao.policy import is_system, rule
from forum.live.models import Audience, LiveHost, LiveSession, SessionStatus


def _active(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False)) and bool(getattr(actor, "is_active", False))


def _admin(actor: Any) -> bool:
    return is_system(actor) or has_role(actor, Role.admin)


def is_host(actor: Any, session: LiveSession | None) -> bool:
    """A host of this session (one query; admins are not hosts, see :func:`may_host`)."""
    if session is None or not _active(actor) or getattr(actor, "id", None) is None:
        return False
    stmt = select(LiveHost.id).where(LiveHost.session_id == session.id, LiveHost.user_id == actor.id)
    return db.session.scalar(stmt) is not None


def may_view(actor: Any, session: LiveSession | None) -> bool:
    """Public sessions: anyone, anonymous visitors too. Members: active users. Branch: users of the
    branch subtree, plus hosts and admins (who may run a session for a branch they are not in)."""
    if session is None:
        return False
    if session.audience == Audience.public:
        return True
    if not _active(actor):
        return False
    if session.audience == Audience.members or _admin(actor):
        return True
    branch_id = getattr(actor, "branch_id", None)
    if branch_id is not None and session.branch_id is not None and session.branch_id in ancestor_ids(branch_id):
        return True
    return is_host(actor, session)


def may_host(actor: Any, session: LiveSession | None) -> bool:
    return session is not None and (_admin(actor) or is_host(actor, session))


@rule("live.create")
def create(actor: Any, _obj: Any = None) -> bool:
    """Run a session: admins, moderators and branch secretaries."""
    return _admin(actor) or has_role(actor, Role.moderator) or has_role(actor, Role.branch_secretary)


@rule("live.view")
def view(actor: Any, session: Any) -> bool:
    return may_view(actor, session)


@rule("live.ask")
def ask(actor: Any, session: Any) -> bool:
    """Ask (and vote): a logged-in member who may see the session."""
    return _active(actor) and may_view(actor, session)


@rule("live.vote")
def vote(actor: Any, session: Any) -> bool:
    return _active(actor) and may_view(actor, session)


@rule("live.host")
def host(actor: Any, session: Any) -> bool:
    """Moderate and answer questions: the session's hosts, or an admin."""
    return may_host(actor, session)


@rule("live.manage")
def manage(actor: Any, session: Any) -> bool:
    """Edit, start, close and export: hosts, the creator, admins."""
    if session is None:
        return False
    creator = _active(actor) and getattr(actor, "id", None) == session.created_by_id
    return creator or may_host(actor, session)


def is_live(session: LiveSession) -> bool:
    return session.status == SessionStatus.live
