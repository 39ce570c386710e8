"""asset.js in Chromium: the facts follow the status JSON without a reload; a vanished upload is said so.

A live server in a thread and Debian's Chromium (tests/e2e/conftest.py), SQLite only.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from media import library
from media.models import AssetStatus, JobStatus, MediaAsset, TranscodeJob
from tests.e2e.journeys import log_in
from tests.media.media_helpers import write_text_as_mp4

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_duration_and_progress_follow_the_job_without_a_reload(app, page, live_server, create_user, tmp_path):
    create_user("mediaadmin", roles=["admin"])
    with app.app_context():
        with atomic():
            asset = library.import_file(SYSTEM, write_text_as_mp4(tmp_path / "lesson.mp4"), "党课").asset
        asset_id = asset.id
    log_in(page, live_server, "mediaadmin")
    page.goto(f"{live_server}/admin/media/{asset_id}")
    assert page.get_by_test_id("asset-status").inner_text() == "排队中"
    assert page.get_by_test_id("asset-duration").inner_text() == "—"
    page.evaluate("() => { window.__samePage = true; }")

    # The worker has probed the file and is transcoding (what jobs.record_probe + progress write).
    with app.app_context():
        db.session.execute(
            update(MediaAsset)
            .where(MediaAsset.id == asset_id)
            .values(status=AssetStatus.transcoding, duration=125.0, width=1280, height=720, has_video=True)
        )
        db.session.execute(
            update(TranscodeJob)
            .where(TranscodeJob.asset_id == asset_id)
            .values(status=JobStatus.running, progress=42.0, attempts=1, heartbeat_at=utcnow())
        )
        db.session.commit()

    page.wait_for_function("() => document.getElementById('asset-duration').textContent === '2:05'", timeout=10000)
    assert page.locator("#asset-picture").inner_text() == "1280×720"
    assert page.get_by_test_id("asset-status").inner_text() == "转码中"
    assert page.locator("#asset-progress-text").inner_text().startswith("42")
    assert page.evaluate("() => window.__samePage === true")  # updated in place, not reloaded
    assert not page.locator("#asset-failure-row").is_visible()


def test_page_of_an_upload_that_expired_says_so_and_stops_polling(app, page, live_server, create_user):
    create_user("mediaadmin", roles=["admin"])
    log_in(page, live_server, "mediaadmin")
    created = page.evaluate("""async () => {
      const csrf = document.querySelector('meta[name="csrf-token"]').content;
      const response = await fetch('/api/media/uploads', {method: 'POST', headers: {
        'Content-Type': 'application/json', 'X-CSRFToken': csrf}, body: JSON.stringify({filename: 'a.mp4', size: 100})});
      return response.json();
    }""")
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/api/media/assets/" in request.url else None)
    page.goto(live_server + created["asset_url"])
    assert page.get_by_test_id("asset-status").inner_text() == "上传中"
    with app.app_context():  # the reaper expires it meanwhile
        db.session.execute(db.delete(MediaAsset).where(MediaAsset.id == created["asset_id"]))
        db.session.commit()

    gone = page.get_by_test_id("asset-gone")
    gone.wait_for(state="visible", timeout=10000)
    assert "已不存在" in gone.inner_text() and "过期" in gone.inner_text()
    assert page.get_by_test_id("asset-status").inner_text() == "已不存在"
    seen = len(polls)
    page.wait_for_timeout(3500)
    assert len(polls) == seen  # no more polling
