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
