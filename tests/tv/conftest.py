"""Fixtures for the set-top box tests: courses (the school's factory) and registered stations."""

from __future__ import annotations

import hashlib
import itertools
import secrets

import pytest

from tests.school.conftest import MadeCourse, make_course  # noqa: F401 — re-exported fixture

_names = itertools.count(1)


@pytest.fixture
def make_device(app):
    """Factory: make_device(branch_id, name=None, revoked=False) -> (device_id, key).

    Inserts the row the way dangxiao.tv.devices stores it (SHA-256 of the key), so tests of the
    feeds do not depend on the admin pages."""

    def make(branch_id: int, name: str | None = None, *, revoked: bool = False) -> tuple[int, str]:
        from dangxiao.db_types import utcnow
        from dangxiao.extensions import db
        from dangxiao.transactions import atomic
        from dangxiao.tv.models import Device

        key = secrets.token_urlsafe(32)
        with app.app_context(), atomic():
            device = Device(
                name=name or f"测试接收站{next(_names)}",
                village="测试村",
                branch_id=branch_id,
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
                key_hint=key[:6],
                revoked_at=utcnow() if revoked else None,
            )
            db.session.add(device)
            db.session.flush()
            return device.id, key

    return make
