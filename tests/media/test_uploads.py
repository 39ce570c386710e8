"""Resumable chunked uploads through the JSON API, as the admin's browser does them."""

from __future__ import annotations

import hashlib
import os

import pytest

from dangxiao.extensions import db
from media.models import AssetStatus, JobStatus, MediaAsset, Upload
from tests.media.media_helpers import OCTET, asset_and_job, media_root

CHUNK = 64 * 1024


@pytest.fixture
def app_config(app_config):
    app_config["MEDIA_CHUNK_MAX_BYTES"] = CHUNK
    return app_config


@pytest.fixture
def payload() -> bytes:
    """Any bytes do for the upload layer (probing happens in the job); 5 chunks and a bit."""
    return os.urandom(5 * CHUNK + 1234)


def part_size(app, upload_id: int) -> int:
    return (media_root(app) / "uploads" / f"{upload_id}.part").stat().st_size


def test_video_uploaded_in_chunks_becomes_a_queued_asset_with_its_source_kept(app, api, make_video):
    source = make_video("讲座.mp4", seconds=1)
    body = api.upload(source, title="第一课", chunk=CHUNK // 4)

    assert body["complete"] is True and body["duplicate"] is False
    assert body["asset_url"] == f"/admin/media/{body['asset_id']}"
    with app.app_context():
        asset, job = asset_and_job(body["asset_id"])
        assert asset.status == AssetStatus.queued and job.status == JobStatus.queued
        assert asset.title == "第一课" and asset.original_filename == "讲座.mp4"
        assert asset.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        assert (media_root(app) / asset.source_path).read_bytes() == source.read_bytes()
        assert app.extensions["huey"].pending_count() == 1
    assert list((media_root(app) / "uploads").iterdir()) == []


def test_upload_resumes_from_the_offset_after_a_dropped_connection(app, api, payload):
    upload_id = api.create("lesson.mp4", len(payload)).get_json()["id"]
    seventy = int(len(payload) * 0.7) // CHUNK * CHUNK
    for offset in range(0, seventy, CHUNK):
        assert api.chunk(upload_id, offset, payload[offset : offset + CHUNK]).status_code == 200

    # The connection drops half-way through the next chunk: the body ends early.
    cut = payload[seventy : seventy + CHUNK // 2]
    response = api.chunk(upload_id, seventy, cut, environ_overrides={"CONTENT_LENGTH": str(CHUNK)})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "chunk_incomplete"

    # The browser comes back, asks where to go on, and finishes from there.
    offset = api.offset(upload_id)
    assert offset == seventy + len(cut) == part_size(app, upload_id)
    while offset < len(payload):
        response = api.chunk(upload_id, offset, payload[offset : offset + CHUNK])
        assert response.status_code == 200
        offset = response.get_json()["offset"]
    body = response.get_json()
    assert body["complete"] is True
    with app.app_context():
        asset = db.session.get(MediaAsset, body["asset_id"])
        assert (media_root(app) / asset.source_path).read_bytes() == payload


def test_get_reports_the_offset_as_json_and_head_as_headers(api, payload):
    upload_id = api.create("a.mp4", len(payload)).get_json()["id"]
    api.chunk(upload_id, 0, payload[:CHUNK])
    state = api.client.get(f"/api/media/uploads/{upload_id}")
    assert state.get_json()["offset"] == CHUNK and state.get_json()["complete"] is False
    assert state.headers["Cache-Control"] == "no-store"
    head = api.client.head(f"/api/media/uploads/{upload_id}")
    assert head.headers["Upload-Offset"] == str(CHUNK) and head.headers["Upload-Length"] == str(len(payload))
    assert head.data == b""


def test_chunk_at_the_wrong_offset_is_refused_and_nothing_is_written(app, api, payload):
    upload_id = api.create("a.mp4", len(payload)).get_json()["id"]
    api.chunk(upload_id, 0, payload[:CHUNK])

    for wrong in (0, CHUNK + 10, 3 * CHUNK):
        response = api.chunk(upload_id, wrong, payload[wrong : wrong + CHUNK])
        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "offset_mismatch" and error["offset"] == CHUNK
        assert "已收到" in error["message"]
        assert response.headers["Upload-Offset"] == str(CHUNK)
    assert part_size(app, upload_id) == CHUNK
    assert api.offset(upload_id) == CHUNK


def test_chunk_beyond_the_declared_size_is_refused(app, api):
    upload_id = api.create("short.mp4", 1000).get_json()["id"]
    api.chunk(upload_id, 0, b"x" * 600)
    response = api.chunk(upload_id, 600, b"y" * 401)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "beyond_declared_size"
    assert response.get_json()["error"]["offset"] == 600
    assert part_size(app, upload_id) == 600


def test_chunk_larger_than_the_chunk_limit_is_refused_before_reading_it(app, api):
    upload_id = api.create("big.mp4", 10 * CHUNK).get_json()["id"]
    response = api.chunk(upload_id, 0, b"z" * (CHUNK + 1))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "chunk_too_large"
    assert part_size(app, upload_id) == 0


def test_chunk_without_offset_header_is_refused(api):
    upload_id = api.create("a.mp4", 100).get_json()["id"]
    response = api.chunk(upload_id, 0, b"x" * 10, headers=api.headers())
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "offset_required"


def test_zero_byte_file_is_refused_with_a_reason_and_leaves_nothing(app, api):
    response = api.create("empty.mp4", 0)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "empty_file" and "0 字节" in error["message"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MediaAsset)) == 0


@pytest.mark.parametrize("size", [-1, "12", None, True, 1.5])
def test_invalid_declared_size_is_refused(api, size):
    response = api.client.post(
        "/api/media/uploads", json={"filename": "a.mp4", "size": size}, headers=api.headers(), csrf=False
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_size"


def test_file_over_the_upload_limit_is_refused(app, api):
    app.config["MEDIA_MAX_UPLOAD_BYTES"] = 10_000
    response = api.create("huge.mp4", 10_001)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "file_too_large"
    assert "最大" in response.get_json()["error"]["message"]


def test_quota_counts_unfinished_uploads_and_frees_space_on_abort(app, api):
    app.config["MEDIA_MAX_TOTAL_BYTES"] = 1000
    first = api.create("a.mp4", 600)
    assert first.status_code == 201
    refused = api.create("b.mp4", 600)
    assert refused.status_code == 413
    error = refused.get_json()["error"]
    assert error["code"] == "quota_exceeded" and "存储空间不足" in error["message"]

    upload_id = first.get_json()["id"]
    assert api.client.delete(f"/api/media/uploads/{upload_id}", headers=api.headers(), csrf=False).status_code == 200
    assert not (media_root(app) / "uploads" / f"{upload_id}.part").exists()
    assert api.create("b.mp4", 600).status_code == 201


def test_same_content_uploaded_twice_points_at_the_existing_asset(app, api, payload):
    path = media_root(app).parent / "same.mp4"
    path.write_bytes(payload)
    one = api.upload(path, chunk=CHUNK)
    two = api.upload(path, chunk=CHUNK)
    assert two["duplicate"] is True and two["asset_id"] == one["asset_id"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MediaAsset)) == 1
        assert db.session.get(Upload, two["id"]).asset_id == one["asset_id"]
    assert list((media_root(app) / "uploads").iterdir()) == []


def test_finished_upload_refuses_more_chunks(api):
    upload_id = api.create("a.mp4", 10).get_json()["id"]
    assert api.chunk(upload_id, 0, b"0123456789").get_json()["complete"] is True
    response = api.chunk(upload_id, 10, b"x")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "upload_complete"


def test_another_admins_upload_cannot_be_written(client, auth, create_user, api):
    upload_id = api.create("mine.mp4", 100).get_json()["id"]
    auth.logout()
    create_user("otheradmin", roles=["admin"])
    auth.login("otheradmin")
    token = client.csrf_token()
    response = client.patch(
        f"/api/media/uploads/{upload_id}",
        data=b"x",
        content_type=OCTET,
        csrf=False,
        headers={"X-CSRFToken": token, "Upload-Offset": "0"},
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "upload_not_found"


def test_members_are_refused_with_403(client, auth, create_user):
    create_user("member1")
    auth.login("member1")
    token = client.csrf_token()
    response = client.post(
        "/api/media/uploads", json={"filename": "a.mp4", "size": 10}, headers={"X-CSRFToken": token}, csrf=False
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert client.get("/admin/media/").status_code == 403


def test_anonymous_api_call_gets_401_json(client):
    response = client.get("/api/media/uploads/1")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "login_required"


def test_missing_csrf_header_is_refused_with_400_json(app, api, payload):
    response = api.client.post("/api/media/uploads", json={"filename": "a.mp4", "size": 10}, csrf=False)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"

    upload_id = api.create("a.mp4", len(payload)).get_json()["id"]
    response = api.chunk(upload_id, 0, payload[:CHUNK], headers={"Upload-Offset": "0"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert part_size(app, upload_id) == 0


def test_form_encoded_chunk_is_refused(api):
    upload_id = api.create("a.mp4", 100).get_json()["id"]
    response = api.client.patch(
        f"/api/media/uploads/{upload_id}", data={"x": "1"}, csrf=False, headers=api.headers(**{"Upload-Offset": "0"})
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_content_type"


def test_upload_page_library_and_nav_link_for_admins(api):
    page = api.client.get("/admin/media/upload").get_data(as_text=True)
    assert "上传媒体" in page and "js/upload.js" in page and 'data-create-url="/api/media/uploads"' in page
    library = api.client.get("/admin/media/").get_data(as_text=True)
    assert "媒体库" in library and "还没有内容" in library
    assert 'href="/admin/media/"' in api.client.get("/").get_data(as_text=True)


def test_uploading_asset_is_listed_and_deleting_it_removes_the_part_file(app, api):
    upload = api.create("未完成.mp4", 500).get_json()
    api.chunk(upload["id"], 0, b"a" * 100)
    library = api.client.get("/admin/media/").get_data(as_text=True)
    assert "未完成" in library and "上传中" in library
    response = api.client.post(f"/admin/media/{upload['asset_id']}/delete")
    assert response.status_code == 302
    assert not (media_root(app) / "uploads" / f"{upload['id']}.part").exists()
    assert api.client.get(f"/api/media/uploads/{upload['id']}").status_code == 404
