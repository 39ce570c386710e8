"""Delivery of a ready asset: MIME types, cache headers, Range, 404s, path traversal, X-Accel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dangxiao.extensions import db
from media import library
from media.models import MediaAsset
from media.tasks import run_job
from tests.media.media_helpers import media_root

PLAYLIST = "application/vnd.apple.mpegurl"


@pytest.fixture
def ready(app, make_video) -> dict:
    """A transcoded 2-second 320x180 clip: its id, version, output folder and URLs."""
    with app.app_context():
        asset = library.import_file(make_video("lesson.mp4", seconds=2), "示例课").asset
        run_job(asset.job.id)
        db.session.expire_all()
        asset = db.session.get(MediaAsset, asset.id)
        assert asset.is_ready
        with app.test_request_context():
            urls = library.asset_urls(asset)
        return {"id": asset.id, "version": asset.version, "dir": media_root(app) / asset.output_dir,
                "base": f"/media/{asset.id}/{asset.version}/", "urls": urls}


def fetch(client, url: str, **kw):
    """GET and close at once (file responses hold an open file until closed)."""
    with client.get(url, **kw) as response:
        response.get_data()
        return response


def referenced(playlist_text: str) -> list[str]:
    return [line for line in playlist_text.splitlines() if line and not line.startswith("#")]


def test_playlists_segments_mp4_and_poster_have_the_right_types_and_cache(client, ready):
    base = ready["base"]
    master = fetch(client, base + "master.m3u8")
    assert master.status_code == 200 and master.mimetype == PLAYLIST
    assert master.headers["Cache-Control"] == "public, max-age=60"
    assert "#EXT-X-STREAM-INF" in master.get_data(as_text=True)

    for variant in referenced(master.get_data(as_text=True)):
        playlist = fetch(client, base + variant)
        assert playlist.status_code == 200 and playlist.mimetype == PLAYLIST
        segments = referenced(playlist.get_data(as_text=True))
        assert segments
        for segment in segments:
            response = fetch(client, base + variant.rsplit("/", 1)[0] + "/" + segment)
            assert response.status_code == 200 and response.mimetype == "video/mp2t"
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert response.data[:1] == b"\x47"  # MPEG-TS sync byte

    mp4 = fetch(client, base + "video.mp4")
    assert mp4.status_code == 200 and mp4.mimetype == "video/mp4" and mp4.headers["Accept-Ranges"] == "bytes"
    poster = fetch(client, base + "poster.jpg")
    assert poster.status_code == 200 and poster.mimetype == "image/jpeg" and poster.data[:2] == b"\xff\xd8"


def test_mp4_range_request_returns_206_with_the_requested_bytes(client, ready):
    whole = (ready["dir"] / "video.mp4").read_bytes()
    response = fetch(client, ready["base"] + "video.mp4", headers={"Range": "bytes=100-1099"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    assert response.headers["Content-Length"] == "1000"
    assert response.data == whole[100:1100]

    tail = fetch(client, ready["base"] + "video.mp4", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.data == whole[-10:]
    beyond = fetch(client, ready["base"] + "video.mp4", headers={"Range": f"bytes={len(whole) + 5}-"})
    assert beyond.status_code == 416


def test_conditional_get_answers_304(client, ready):
    first = fetch(client, ready["base"] + "poster.jpg")
    again = fetch(client, ready["base"] + "poster.jpg", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_files_are_public_for_now(app, client, ready):
    """Anonymous visitors may fetch; lessons will decide access per lesson later."""
    assert fetch(client, ready["urls"]["hls"]).status_code == 200


def test_asset_that_is_not_ready_is_404(app, client, ready, make_video):
    with app.app_context():
        queued = library.import_file(make_video("b.mp4", seconds=1)).asset
        assert fetch(client, f"/media/{queued.id}/v00000000/master.m3u8").status_code == 404
        asset = db.session.get(MediaAsset, ready["id"])
        asset.status = "failed"
        db.session.commit()
    assert fetch(client, ready["base"] + "master.m3u8").status_code == 404
    assert fetch(client, "/media/999/v1/master.m3u8").status_code == 404


def test_old_or_wrong_version_is_404(client, ready):
    assert fetch(client, f"/media/{ready['id']}/v00000000/master.m3u8").status_code == 404


TRAVERSALS = [
    "../../../originals/1.mp4",
    "..%2F..%2F..%2Foriginals%2F1.mp4",
    "180p/../../v0/master.m3u8",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/dangxiao.db",
    "/etc/passwd",
    "180p/index.m3u8/..",
    ".hidden.m3u8",
    "master.m3u8.bak",
    "notes.txt",
    "a/b/c/seg.ts",
    "180p\\..\\..\\x.ts",
    "missing.ts",
]


def test_path_traversal_and_unknown_names_are_404(app, client, ready):
    (ready["dir"] / "notes.txt").write_text("secret")
    for name in TRAVERSALS:
        response = fetch(client, ready["base"] + name, follow_redirects=True)
        assert response.status_code == 404, name


def test_symlink_out_of_the_output_folder_is_not_followed(app, client, ready, tmp_path):
    secret = tmp_path / "secret.ts"
    secret.write_bytes(b"\x47secret")
    (ready["dir"] / "evil.ts").symlink_to(secret)
    assert fetch(client, ready["base"] + "evil.ts").status_code == 404


def test_x_accel_redirect_mode_hands_the_file_to_nginx(app, client, ready):
    app.config["MEDIA_X_ACCEL_PREFIX"] = "/_media/"
    segment = referenced((ready["dir"] / "180p" / "index.m3u8").read_text())[0]
    response = fetch(client, ready["base"] + "180p/" + segment)
    assert response.status_code == 200 and response.data == b""
    relative = Path(ready["dir"]).relative_to(media_root(app)).as_posix()
    assert response.headers["X-Accel-Redirect"] == f"/_media/{relative}/180p/{segment}"
    assert response.mimetype == "video/mp2t"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    playlist = fetch(client, ready["base"] + "master.m3u8")
    assert playlist.mimetype == PLAYLIST and playlist.headers["Cache-Control"] == "public, max-age=60"
    assert fetch(client, ready["base"] + "../x.ts").status_code == 404


def test_hls_js_is_served_from_node_modules_and_nothing_else(client):
    from dangxiao.vendor import NODE_MODULES

    if not Path(NODE_MODULES, "hls.js/dist/hls.min.js").is_file():
        pytest.skip("node_modules/hls.js missing: run `npm install` (make npm-deps)")
    response = fetch(client, "/static/vendor/hls.min.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert re.search(rb"Hls", response.data[:200000])
    for name in ["hls.js", "../package.json", "hls.js%2Fpackage.json"]:
        assert fetch(client, "/static/vendor/" + name).status_code == 404


def test_healthz_reports_the_queue_and_media_folder(client, ready):
    checks = client.get("/healthz").get_json()["checks"]
    assert checks["queue"]["ok"] is True and checks["queue"]["backend"] == "SqliteHuey"
    assert checks["queue"]["jobs"]["done"] == 1
    assert checks["media"]["ok"] is True and checks["media"]["free_bytes"] > 0
