"""Two uploads started at the same instant cannot both take room that only one of them fits in.

Each upload runs in its own thread with its own app context (so its own session and
connection), both released together by a barrier. Reading the total is slowed down
so that, without the lock (PostgreSQL: an advisory lock; SQLite: write before read),
both would read the same "free" space before either reserved it.
"""

from __future__ import annotations

import threading
import time

import pytest

from dangxiao.accounts.models import User
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from media import library, uploads
from media.models import MediaAsset, Upload


def start_at_once(app, user_id: int, sizes: list[int]) -> list[str]:
    barrier = threading.Barrier(len(sizes))
    results: list[str] = [""] * len(sizes)

    def start(n: int, size: int) -> None:
        with app.app_context():
            try:
                actor = db.session.get(User, user_id)
                assert actor is not None and actor.roles  # loaded before the race starts
                barrier.wait(timeout=10)
                with atomic():
                    uploads.create_upload(actor, f"第{n}课.mp4", size)
                results[n] = "created"
            except DomainError as error:
                results[n] = error.code
            except Exception as error:  # noqa: BLE001 — reported by the assertion below
                results[n] = f"crashed: {error!r}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=start, args=(n, size)) for n, size in enumerate(sizes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def slow_total(monkeypatch):
    """Widen the window between reading the used space and committing the reservation."""
    real = library.used_bytes

    def used_bytes() -> int:
        value = real()
        time.sleep(0.4)
        return value

    monkeypatch.setattr(library, "used_bytes", used_bytes)


def reserved(app) -> tuple[int, int, int]:
    with app.app_context():
        assets = db.session.scalar(db.select(db.func.count()).select_from(MediaAsset))
        rows = db.session.scalar(db.select(db.func.count()).select_from(Upload))
        return assets, rows, library.used_bytes()


def test_only_one_of_two_simultaneous_uploads_fits_the_last_room(app, create_user, slow_total):
    admin_id = create_user("racer", roles=["admin"])
    app.config["MEDIA_MAX_TOTAL_BYTES"] = 1000

    results = start_at_once(app, admin_id, [600, 600])

    assert sorted(results) == ["created", "quota_exceeded"], results
    assert reserved(app) == (1, 1, 600)


def test_both_simultaneous_uploads_start_when_there_is_room_for_both(app, create_user, slow_total):
    admin_id = create_user("racer", roles=["admin"])
    app.config["MEDIA_MAX_TOTAL_BYTES"] = 1200

    results = start_at_once(app, admin_id, [600, 600])

    assert results == ["created", "created"], results
    assert reserved(app) == (2, 2, 1200)


def test_a_refused_reservation_leaves_nothing_behind(app, create_user):
    admin_id = create_user("racer", roles=["admin"])
    app.config["MEDIA_MAX_TOTAL_BYTES"] = 1000
    with app.app_context():
        actor = db.session.get(User, admin_id)
        with atomic():
            uploads.create_upload(actor, "a.mp4", 900)
        with pytest.raises(library.QuotaExceeded):
            uploads.create_upload(actor, "b.mp4", 200)
        # The caller may go on in the same transaction: the refused row is already gone.
        assert library.used_bytes() == 900
        db.session.commit()
    assert reserved(app) == (1, 1, 900)
