"""Odd input to the upload API is refused early with a JSON error code, never a 500.

Refused before any byte moves: bodies that are not a JSON object, fields of the wrong
type, sizes no file has, files that are not video or audio; Upload-Offset headers
that are not a plain byte position; ids no BIGINT can hold.
"""

from __future__ import annotations

import pytest

from dangxiao.extensions import db
from media.models import MediaAsset, Upload
from tests.media.media_helpers import OCTET, media_root

CHUNK = 64 * 1024
TOO_BIG_ID = 2**63  # one past BIGINT


@pytest.fixture
def app_config(app_config):
    app_config["MEDIA_CHUNK_MAX_BYTES"] = CHUNK
    return app_config


def nothing_was_created(app) -> None:
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MediaAsset)) == 0
        assert db.session.scalar(db.select(db.func.count()).select_from(Upload)) == 0
    uploads_dir = media_root(app) / "uploads"
    assert not uploads_dir.exists() or list(uploads_dir.iterdir()) == []


def post_raw(api, body: str, content_type: str = "application/json"):
    return api.client.post(
        "/api/media/uploads", data=body, content_type=content_type, headers=api.headers(), csrf=False
    )


@pytest.mark.parametrize(
    "body",
    [
        "[1]",
        '"abc"',
        "null",
        "123",
        "true",
        "",
        "{",
        "not json",
        "{'filename': 'a.mp4'}",
        "9" * 5000,  # past Python's int-parsing digit limit: json.loads raises ValueError
        '{"filename": "a.mp4", "size": ' + "9" * 5000 + "}",
    ],
)
def test_body_that_is_not_a_json_object_is_refused(app, api, body):
    response = post_raw(api, body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_json" and "JSON 对象" in error["message"]
    nothing_was_created(app)


def test_form_post_instead_of_json_is_refused(app, api):
    response = post_raw(api, "filename=a.mp4&size=10", "application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    nothing_was_created(app)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"title": 123}, "invalid_filename"),
        ({"filename": "a.mp4", "size": 10, "title": 123}, "invalid_title"),
        ({"filename": "a.mp4", "size": 10, "title": ["a"]}, "invalid_title"),
        ({"filename": 5, "size": 10}, "invalid_filename"),
        ({"filename": ["a.mp4"], "size": 10}, "invalid_filename"),
        ({"filename": "   ", "size": 10}, "invalid_filename"),
        ({"size": 10}, "invalid_filename"),
        ({"filename": "a.mp4"}, "invalid_size"),
        ({"filename": "a.mp4", "size": "12"}, "invalid_size"),
        ({"filename": "a.mp4", "size": 1e30}, "invalid_size"),
        ({"filename": "a.mp4", "size": 12.0}, "invalid_size"),
        ({"filename": "a.mp4", "size": 2**53}, "invalid_size"),
        ({"filename": "a.mp4", "size": 2**63}, "invalid_size"),
        ({"filename": "a.mp4", "size": 10**40}, "invalid_size"),
        ({"filename": "a.mp4", "size": -(10**40)}, "invalid_size"),
        ({"filename": "a.mp4", "size": {"bytes": 1}}, "invalid_size"),
    ],
)
def test_fields_of_the_wrong_type_are_refused_with_a_code(app, api, body, code):
    response = api.client.post("/api/media/uploads", json=body, headers=api.headers(), csrf=False)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    nothing_was_created(app)


def test_huge_sizes_are_refused_even_without_any_size_limit(app, api):
    app.config["MEDIA_MAX_UPLOAD_BYTES"] = 0
    for size in (2**53, 2**63 - 1, 2**64, 10**40):
        response = api.create("a.mp4", size)
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_size"
    nothing_was_created(app)
    # The largest sensible size is accepted and counted without overflowing the total.
    assert api.create("a.mp4", 2**53 - 1).status_code == 201
    assert api.create("b.mp4", 2**53 - 1).status_code == 201
    assert "媒体库" in api.client.get("/admin/media/").get_data(as_text=True)


@pytest.mark.parametrize(
    "filename", ["notes.txt", "slides.pdf", "photo.jpg", "archive.tar.gz", "README", "video.mp4.exe", "a.", ".."]
)
def test_files_that_are_not_video_or_audio_are_refused_before_any_byte(app, api, filename):
    response = api.create(filename, 1000)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "unsupported_type"
    assert "视频" in error["message"] and "音频" in error["message"]
    nothing_was_created(app)


@pytest.mark.parametrize(
    "filename",
    ["第一课.MP4", "lecture.mkv", "talk.webm", "song.mp3", "讲座.m4a", "old.rmvb", "tape.wav", r"C:\Users\王\课程.flv"],
)
def test_known_video_and_audio_extensions_are_accepted(api, filename):
    response = api.create(filename, 1000)
    assert response.status_code == 201, response.get_json()


def test_over_size_file_is_refused_before_any_byte_with_a_chinese_message(app, api):
    app.config["MEDIA_MAX_UPLOAD_BYTES"] = 5 * 1024**2
    response = api.create("lesson.mp4", 5 * 1024**2 + 1)
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "file_too_large" and "文件太大" in error["message"] and "5.0 MB" in error["message"]
    nothing_was_created(app)


def test_upload_page_tells_the_accepted_types_and_the_limit(app, api):
    app.config["MEDIA_MAX_UPLOAD_BYTES"] = 2 * 1024**3
    page = api.client.get("/admin/media/upload").get_data(as_text=True)
    assert "最大 2.0 GB" in page
    assert 'data-max-bytes="2147483648"' in page and "mp4" in page and ".rmvb" in page


BAD_OFFSETS = ["²", "-1", "+5", "0x10", "1e3", "1.0", "9" * 40, "12345678901234567", "5,0", "五"]


@pytest.mark.parametrize("value", BAD_OFFSETS)
def test_upload_offset_that_is_not_a_plain_byte_position_is_a_400_with_the_resume_offset(app, api, value):
    upload_id = api.create("a.mp4", 10 * CHUNK).get_json()["id"]
    assert api.chunk(upload_id, 0, b"x" * 100).status_code == 200
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:  # not sendable in an HTTP header as such: send its UTF-8 bytes
        value = value.encode("utf-8").decode("latin-1")
    response = api.chunk(upload_id, 0, b"y" * 10, headers=api.headers(**{"Upload-Offset": value}))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_offset" and error["offset"] == 100
    assert response.headers["Upload-Offset"] == "100"
    assert api.offset(upload_id) == 100
    assert (media_root(app) / "uploads" / f"{upload_id}.part").read_bytes() == b"x" * 100


def test_upload_offset_with_surrounding_spaces_is_read_as_http_does(api):
    """HTTP strips the spaces around a header value; what is left must still be a plain number."""
    upload_id = api.create("a.mp4", 1000).get_json()["id"]
    response = api.chunk(upload_id, 0, b"x" * 10, headers=api.headers(**{"Upload-Offset": " 0 "}))
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.get_json()["error"]["code"] == "invalid_offset"
        assert response.get_json()["error"]["offset"] == 0


def test_empty_upload_offset_asks_for_one(api):
    upload_id = api.create("a.mp4", 1000).get_json()["id"]
    response = api.chunk(upload_id, 0, b"x", headers=api.headers(**{"Upload-Offset": ""}))
    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": "offset_required",
        "message": "缺少有效的 Upload-Offset 请求头。",
        "offset": 0,
    }


@pytest.mark.parametrize("upload_id", [TOO_BIG_ID, 10**30, 2**63 - 1, 2**31, 2**31 - 1, 0])
def test_upload_ids_out_of_range_are_404_json_never_500(api, upload_id):
    url = f"/api/media/uploads/{upload_id}"
    response = api.client.get(url)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] in ("not_found", "upload_not_found")
    assert api.client.head(url).status_code == 404
    writes = [
        api.client.patch(url, data=b"x", content_type=OCTET, csrf=False, headers=api.headers(**{"Upload-Offset": "0"})),
        api.client.delete(url, headers=api.headers(), csrf=False),
    ]
    for response in writes:
        # Werkzeug collects the methods of a path-matching rule before the converter refuses
        # the id, so past the INTEGER range a PATCH/DELETE is answered 405 (GET is allowed), not 404.
        expected = (404,) if upload_id <= 2**31 - 1 else (404, 405)
        assert response.status_code in expected
        assert response.get_json()["error"]["code"] in ("not_found", "upload_not_found", "method_not_allowed")


@pytest.mark.parametrize("asset_id", [TOO_BIG_ID, 2**63 - 1, 2**31, 2**31 - 1])
def test_asset_ids_out_of_range_are_404(api, asset_id):
    assert api.client.get(f"/api/media/assets/{asset_id}").status_code == 404
    assert api.client.get(f"/admin/media/{asset_id}").status_code == 404
    assert api.client.post(f"/admin/media/{asset_id}/retry").status_code == 404
    assert api.client.post(f"/admin/media/{asset_id}/delete").status_code == 404
