"""Unfinished uploads expire: their bytes and quota are freed, and their page says what happened."""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from media import library, uploads
from media.models import MediaAsset, Upload
from media.worker import Reaper
from tests.media.media_helpers import media_root

CHUNK = 64 * 1024


@pytest.fixture
def app_config(app_config):
    app_config["MEDIA_CHUNK_MAX_BYTES"] = CHUNK
    return app_config


def last_chunk_ago(app, upload_id: int, **delta) -> None:
    """Pretend the browser sent its last chunk `delta` ago."""
    with app.app_context():
        db.session.execute(
            update(Upload).where(Upload.id == upload_id).values(updated_at=utcnow() - timedelta(**delta))
        )
        db.session.commit()


def part(app, upload_id: int):
    return media_root(app) / "uploads" / f"{upload_id}.part"


def started(api, name: str, size: int, sent: int = 0) -> dict:
    body = api.create(name, size).get_json()
    if sent:
        assert api.chunk(body["id"], 0, b"x" * sent).status_code == 200
    return body


def test_default_expiry_is_24_hours(app):
    assert app.config["MEDIA_UPLOAD_EXPIRY_HOURS"] == 24


def test_expired_upload_frees_its_bytes_and_quota_but_fresh_and_finished_ones_stay(app, api):
    app.config["MEDIA_MAX_TOTAL_BYTES"] = 2000
    old = started(api, "old.mp4", 1200, sent=100)
    fresh = started(api, "fresh.mp4", 300, sent=50)
    done = started(api, "done.mp4", 10)
    assert api.chunk(done["id"], 0, b"0123456789").get_json()["complete"] is True
    last_chunk_ago(app, old["id"], hours=24, minutes=1)
    last_chunk_ago(app, done["id"], hours=48)
    assert api.create("new.mp4", 1000).status_code == 413  # the old reservation still counts

    with app.app_context():
        report = uploads.sweep_expired_uploads()
        assert report.removed == [old["id"]] and report.freed_bytes == 1200
        assert db.session.get(MediaAsset, old["asset_id"]) is None
        assert db.session.get(Upload, old["id"]) is None
        assert db.session.get(Upload, fresh["id"]).received == 50
        assert library.used_bytes() == 300 + 10

    assert not part(app, old["id"]).exists()
    assert part(app, fresh["id"]).stat().st_size == 50
    assert api.create("new.mp4", 1000).status_code == 201  # the freed room is usable again
    response = api.chunk(old["id"], 100, b"y" * 10)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "upload_not_found"


def test_the_worker_reaper_expires_uploads_on_its_tick(app, api):
    old = started(api, "old.mp4", 500, sent=10)
    last_chunk_ago(app, old["id"], hours=25)
    report = Reaper(app, interval=1.0).tick()
    assert report is not None
    with app.app_context():
        assert db.session.get(Upload, old["id"]) is None
    assert not part(app, old["id"]).exists()


def test_expire_uploads_command(app, api, runner):
    app.config["MEDIA_UPLOAD_EXPIRY_HOURS"] = 2
    old = started(api, "old.mp4", 2048, sent=10)
    kept = started(api, "kept.mp4", 500, sent=10)
    last_chunk_ago(app, old["id"], hours=3)
    last_chunk_ago(app, kept["id"], hours=1)

    result = runner.invoke(args=["media", "expire-uploads"])
    assert result.exit_code == 0, result.output
    assert "已清除 1 个超过 2 小时未继续的上传" in result.output and "2.0 KB" in result.output
    with app.app_context():
        assert db.session.get(Upload, old["id"]) is None and db.session.get(Upload, kept["id"]) is not None
    again = runner.invoke(args=["media", "expire-uploads"])
    assert "已清除 0 个" in again.output


def test_zero_hours_keeps_unfinished_uploads(app, api, runner):
    app.config["MEDIA_UPLOAD_EXPIRY_HOURS"] = 0
    old = started(api, "old.mp4", 500, sent=10)
    last_chunk_ago(app, old["id"], days=400)
    assert "不会过期" in runner.invoke(args=["media", "expire-uploads"]).output
    with app.app_context():
        assert uploads.sweep_expired_uploads().removed == []
        assert db.session.get(Upload, old["id"]) is not None
    assert "自动清除" not in api.client.get("/admin/media/upload").get_data(as_text=True)


def test_old_part_files_without_an_unfinished_upload_are_swept(app, api):
    live = started(api, "live.mp4", 500, sent=10)
    folder = media_root(app) / "uploads"
    old_orphan, new_orphan, other = folder / "999.part", folder / "998.part", folder / "notes.txt"
    old_import = folder / "import-0123456789abcdef.part"  # the staged copy of a rolled-back import
    for path in (old_orphan, new_orphan, other, old_import):
        path.write_bytes(b"left over")
    long_ago = time.time() - 30 * 3600
    for path in (old_orphan, other, old_import, part(app, live["id"])):
        os.utime(path, (long_ago, long_ago))  # the live upload's row is fresh: it stays

    with app.app_context():
        assert uploads.sweep_expired_uploads().orphans == 2
    assert not old_orphan.exists() and not old_import.exists()
    assert new_orphan.exists() and other.exists() and part(app, live["id"]).exists()


def test_upload_removed_while_its_chunk_arrives_answers_404_not_500(app, api, monkeypatch):
    body = started(api, "a.mp4", 1000)
    real_copy = uploads._copy_into

    def copy_then_expire(fh, offset, stream, length):
        result = real_copy(fh, offset, stream, length)
        with db.engine.begin() as conn:  # the reaper, on its own connection, meanwhile
            conn.execute(db.delete(MediaAsset).where(MediaAsset.id == body["asset_id"]))
        return result

    monkeypatch.setattr(uploads, "_copy_into", copy_then_expire)
    response = api.chunk(body["id"], 0, b"x" * 100)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "upload_not_found"


def page_of(api, asset_id: int) -> str:
    response = api.client.get(f"/admin/media/{asset_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def status_label(page: str) -> str:
    return re.search(r'data-testid="asset-status"[^>]*>([^<]+)<', page).group(1)


def test_asset_page_of_an_upload_in_progress_polls_and_says_uploading(app, api):
    body = started(api, "讲座.mp4", 1000, sent=400)
    page = page_of(api, body["asset_id"])
    assert status_label(page) == "上传中"
    assert 'data-settled="false"' in page and 'data-stalled="false"' in page
    assert "已收到 400 B / 1000 B（40.0%）" in page
    state = api.client.get(f"/api/media/assets/{body['asset_id']}").get_json()
    assert state["status_label"] == "上传中" and state["settled"] is False
    assert state["upload"]["percent"] == 40.0 and state["upload"]["stalled"] is False


def test_abandoned_upload_shows_unfinished_and_when_it_will_be_cleared(app, api):
    body = started(api, "讲座.mp4", 1000, sent=400)
    last_chunk_ago(app, body["id"], minutes=10)
    page = page_of(api, body["asset_id"])
    assert status_label(page) == "上传未完成"
    assert "上传中" not in page
    assert 'data-settled="false"' in page and 'data-stalled="true"' in page  # polled slowly
    assert "从断点继续" in page and "自动清除" in page
    state = api.client.get(f"/api/media/assets/{body['asset_id']}").get_json()
    assert state["upload"]["stalled"] is True and state["upload"]["expired"] is False
    assert state["upload"]["expires_at"] and state["upload"]["expires_text"] in page
    library_page = api.client.get("/admin/media/").get_data(as_text=True)
    assert "上传未完成 · 已收到 40.0%" in library_page


def test_expired_upload_waiting_for_the_reaper_stops_polling(app, api):
    body = started(api, "讲座.mp4", 1000, sent=400)
    last_chunk_ago(app, body["id"], hours=30)
    page = page_of(api, body["asset_id"])
    assert status_label(page) == "上传未完成"
    assert 'data-settled="true"' in page and "已过期" in page
    state = api.client.get(f"/api/media/assets/{body['asset_id']}").get_json()
    assert state["settled"] is True and state["upload"]["expired"] is True


def test_after_expiry_the_asset_page_and_its_status_are_404(app, api):
    body = started(api, "讲座.mp4", 1000, sent=400)
    last_chunk_ago(app, body["id"], hours=30)
    with app.app_context():
        uploads.sweep_expired_uploads()
    assert api.client.get(f"/admin/media/{body['asset_id']}").status_code == 404
    response = api.client.get(f"/api/media/assets/{body['asset_id']}")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert api.client.get(body["status_url"]).status_code == 404


def test_uploading_asset_without_its_upload_row_is_shown_as_unfinished_and_settled(app, api):
    body = started(api, "讲座.mp4", 1000, sent=400)
    with app.app_context():
        db.session.execute(db.delete(Upload).where(Upload.id == body["id"]))
        db.session.commit()
    page = page_of(api, body["asset_id"])
    assert status_label(page) == "上传未完成" and 'data-settled="true"' in page
    assert "找不到这次上传的记录" in page


def test_an_upload_whose_chunk_is_arriving_right_now_is_not_expired(app, api):
    body = started(api, "old.mp4", 500, sent=10)
    last_chunk_ago(app, body["id"], hours=30)
    with app.app_context():
        with atomic():
            owner = db.session.get(Upload, body["id"])
            uploads._lock_part(owner, "r+b")  # what a chunk request holds while its bytes arrive
            with app.app_context():  # the reaper, meanwhile, in its own context and session
                assert uploads.sweep_expired_uploads().removed == []
    with app.app_context():
        assert db.session.get(Upload, body["id"]) is not None
        assert uploads.sweep_expired_uploads().removed == [body["id"]]
