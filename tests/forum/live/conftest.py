"""Fixtures for the live Q&A tests: sessions made straight in the database (no views needed)."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.fixture
def make_session(app):
    """Factory: make_session(host_ids, *, audience="members", branch_id=None, status="live",
    moderation="approve_all", allow_anonymous=False, board_id=None, title="学习答疑") -> session id."""

    def make(
        host_ids,
        *,
        audience: str = "members",
        branch_id: int | None = None,
        status: str = "live",
        moderation: str = "approve_all",
        allow_anonymous: bool = False,
        board_id: int | None = None,
        title: str = "学习答疑",
    ) -> int:
        from dangxiao.db_types import utcnow
        from dangxiao.extensions import db
        from dangxiao.transactions import atomic
        from forum.live.models import Audience, LiveHost, LiveSession, ModerationMode, SessionStatus

        with app.app_context(), atomic():
            now = utcnow()
            session = LiveSession(
                title=title,
                description="",
                status=SessionStatus(status),
                moderation=ModerationMode(moderation),
                allow_anonymous=allow_anonymous,
                audience=Audience(audience),
                branch_id=branch_id,
                board_id=board_id,
                starts_at=now - timedelta(minutes=5),
                started_at=now if status != "scheduled" else None,
                created_by_id=host_ids[0] if host_ids else None,
            )
            session.hosts = [LiveHost(user_id=uid) for uid in host_ids]
            db.session.add(session)
            db.session.flush()
            return session.id

    return make


@pytest.fixture
def act(ctx):
    """act(user_id | None, fn, *args, **kw): call a service as that user (None: an anonymous visitor)
    inside one atomic() unit of work, in the test's app context, and return its result."""
    from flask_login import AnonymousUserMixin

    from dangxiao.accounts.models import User
    from dangxiao.extensions import db
    from dangxiao.transactions import atomic

    def call(user_id, fn, *args, **kw):
        with atomic():
            actor = AnonymousUserMixin() if user_id is None else db.session.get(User, user_id)
            return fn(actor, *args, **kw)

    return call


@pytest.fixture
def live_people(create_user):
    """A host and two members (ids), by name."""
    return {
        "host": create_user("live_host", display_name="主持人老王"),
        "asker": create_user("live_asker", display_name="提问人小李"),
        "other": create_user("live_other", display_name="旁听人小张"),
    }
