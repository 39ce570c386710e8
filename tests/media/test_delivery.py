"""Delivery of a ready asset: MIME types, cache headers, Range, 404s, path traversal, X-Accel.

Every URL here carries a valid grant (the grants themselves are tested in test_grants.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from media import grants, library
from media.models import MediaAsset
from media.tasks import run_job
from tests.media.media_helpers import media_root

PLAYLIST = "application/vnd.apple.mpegurl"


def make_ready(app, make_video) -> dict:
    """A transcoded 2-second 320x180 clip: its id, version, output folder and granted URLs."""
    with app.app_context():
        with atomic():
            asset = library.import_file(SYSTEM, make_video("lesson.mp4", seconds=2), "示例课").asset
        run_job(asset.job.id)
        db.session.expire_all()
        asset = db.session.get(MediaAsset, asset.id)
        assert asset.is_ready
        with app.test_request_context():
            urls = library.asset_urls(asset, grants.staff(1))
        return {
            "id": asset.id,
            "version": asset.version,
            "dir": media_root(app) / asset.output_dir,
            "base": urls["hls"].removesuffix("master.m3u8"),
            "grant": urls["hls"].split("/")[2],
            "urls": urls,
        }


@pytest.fixture
def ready(app, make_video) -> dict:
    return make_ready(app, make_video)


def with_grant(app, url: str, subject: str = "s1") -> str:
    """`/media/<id>/<version>/<name>` → the same file's URL with a fresh grant for that asset."""
    match = re.fullmatch(r"/media/(\d+)/(.+)", url)
    assert match, url
    with app.app_context():
        grant = grants.issue(int(match.group(1)), subject)
    return f"/media/{grant}/{match.group(1)}/{match.group(2)}"


def fetch(client, url: str, **kw):
    """GET and close at once (file responses hold an open file until closed)."""
    with client.get(url, **kw) as response:
        response.get_data()
        return response


def max_age(response) -> int:
    """The max-age of a private Cache-Control (delivery never lets shared caches keep a file)."""
    match = re.fullmatch(r"private, max-age=(\d+)(, immutable)?", response.headers["Cache-Control"])
    assert match, response.headers["Cache-Control"]
    return int(match.group(1))


def referenced(playlist_text: str) -> list[str]:
    return [line for line in playlist_text.splitlines() if line and not line.startswith("#")]


def test_playlists_segments_mp4_and_poster_have_the_right_types_and_cache(client, ready):
    """Granted responses are private and never cached beyond the grant (here: its 6 h)."""
    base, ttl = ready["base"], 6 * 3600
    master = fetch(client, base + "master.m3u8")
    assert master.status_code == 200 and master.mimetype == PLAYLIST
    assert master.headers["Cache-Control"] == "private, max-age=60"
    assert "#EXT-X-STREAM-INF" in master.get_data(as_text=True)

    for variant in referenced(master.get_data(as_text=True)):
        playlist = fetch(client, base + variant)
        assert playlist.status_code == 200 and playlist.mimetype == PLAYLIST
        segments = referenced(playlist.get_data(as_text=True))
        assert segments
        for segment in segments:
            response = fetch(client, base + variant.rsplit("/", 1)[0] + "/" + segment)
            assert response.status_code == 200 and response.mimetype == "video/mp2t"
            assert response.headers["Cache-Control"].endswith(", immutable")
            assert ttl - 60 <= max_age(response) <= ttl
            assert response.data[:1] == b"\x47"  # MPEG-TS sync byte

    mp4 = fetch(client, base + "video.mp4")
    assert mp4.status_code == 200 and mp4.mimetype == "video/mp4" and mp4.headers["Accept-Ranges"] == "bytes"
    assert ttl - 60 <= max_age(mp4) <= ttl
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


def test_unusable_range_headers_are_ignored_and_the_whole_file_is_sent(client, ready):
    """RFC 9110 §14.2: a Range header that does not parse, another unit, several ranges (we do not
    send multipart/byteranges) or last < first is ignored: 200 with the whole file."""
    whole = (ready["dir"] / "video.mp4").read_bytes()
    for header in [
        "bytes=abc",
        "bytes=0-1,5-6",
        "bytes=0-0,-1",
        "items=0-10",
        "bytes=5-2",
        "bytes=",
        "bytes=-",
        "bytes=1-2,",
        "0-10",
        "bytes=--1",
        "bytes 0-10",
    ]:
        response = fetch(client, ready["base"] + "video.mp4", headers={"Range": header})
        assert response.status_code == 200, header
        assert response.data == whole and "Content-Range" not in response.headers, header


def test_unsatisfiable_range_is_416_in_the_site_error_shape(client, ready):
    size = (ready["dir"] / "video.mp4").stat().st_size
    url = ready["base"] + "video.mp4"
    page = fetch(client, url, headers={"Range": f"bytes={size}-"})
    assert page.status_code == 416 and page.mimetype == "text/html"
    assert page.headers["Content-Range"] == f"bytes */{size}"
    text = page.get_data(as_text=True)
    assert "请求的字节范围超出了文件大小" in text and "Requested Range Not Satisfiable" not in text

    api = fetch(client, url, headers={"Range": f"bytes={size + 100}-{size + 200}", "Accept": "application/json"})
    assert api.status_code == 416 and api.headers["Content-Range"] == f"bytes */{size}"
    assert api.get_json() == {
        "error": {"code": "range_not_satisfiable", "message": "请求的字节范围超出了文件大小，无法返回。"}
    }
    assert fetch(client, url, headers={"Range": "bytes=-0"}).status_code == 416  # empty suffix
    # A range that starts inside the file is cut at its end, not refused.
    last = fetch(client, url, headers={"Range": f"bytes={size - 1}-{size + 1000}"})
    assert last.status_code == 206 and last.headers["Content-Range"] == f"bytes {size - 1}-{size - 1}/{size}"
    # If-Range that does not match: the Range is ignored, whatever it asks for.
    stale = fetch(client, url, headers={"Range": f"bytes={size}-", "If-Range": '"not-the-etag"'})
    assert stale.status_code == 200 and len(stale.data) == size


def test_conditional_get_answers_304(client, ready):
    first = fetch(client, ready["base"] + "poster.jpg")
    again = fetch(client, ready["base"] + "poster.jpg", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_asset_that_is_not_ready_is_404(app, client, ready, make_video):
    with app.app_context():
        with atomic():
            queued = library.import_file(SYSTEM, make_video("b.mp4", seconds=1)).asset
        assert fetch(client, with_grant(app, f"/media/{queued.id}/v00000000/master.m3u8")).status_code == 404
        asset = db.session.get(MediaAsset, ready["id"])
        asset.status = "failed"
        db.session.commit()
    assert fetch(client, ready["base"] + "master.m3u8").status_code == 404
    assert fetch(client, with_grant(app, "/media/999/v1/master.m3u8")).status_code == 404


def test_old_or_wrong_version_is_404(app, client, ready):
    assert fetch(client, with_grant(app, f"/media/{ready['id']}/v00000000/master.m3u8")).status_code == 404


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
    assert response.headers["Cache-Control"].startswith("private, max-age=") and max_age(response) > 3600
    playlist = fetch(client, ready["base"] + "master.m3u8")
    assert playlist.mimetype == PLAYLIST and playlist.headers["Cache-Control"] == "private, max-age=60"
    # The app still checks the grant first: nginx is never asked for a file without one.
    refused = fetch(client, ready["base"].replace(ready["grant"], "s1.zzzzzz.AAAAAAAAAAAAAAAAAAAAAA") + "video.mp4")
    assert refused.status_code == 403 and "X-Accel-Redirect" not in refused.headers
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
