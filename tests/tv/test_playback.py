"""VLC-style playback, proven: ffprobe and ffmpeg play the URLs the feeds list, as they are.

A real clip is transcoded (HLS ladder + MP4 fallback) and made a lesson; the app serves on a
real port; the M3U and the MacCMS detail are fetched over HTTP the way a box app does (key
in the path prefix, then as ``?key=``), and the first lesson's URL from each goes to ffmpeg
with no header and no cookie. HLS: our 302 → granted master.m3u8 → variant → segments; MP4:
302 → the file (with Range). Frames must decode.
"""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from tests.e2e.conftest import closing
from tests.media.conftest import generate
from tests.support.binaries import require
from tests.support.postgres import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:  # real media and a real server: once is enough
    return request.param


@pytest.fixture
def live_server(app) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, closing(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def played_lesson(app, tmp_path) -> int:
    """A published, open course whose one lesson is a really transcoded 3-second clip."""
    require("ffmpeg")
    require("ffprobe")
    from dangxiao.school.models import Course, Lesson
    from media import library
    from media.tasks import run_job

    clip = generate(tmp_path / "党课.mp4", seconds=3)
    with app.app_context():
        with atomic():
            asset = library.import_file(SYSTEM, clip, "党课示例").asset
        run_job(asset.job.id)
        db.session.expire_all()
        asset = db.session.merge(asset)
        assert asset.is_ready, asset.status
        with atomic():
            course = Course(title="乡村振兴, 第一课", year=2026, published=True, open_to_all=True)
            lesson = Lesson(course=course, position=1, title='"开篇"', asset=asset, duration=asset.duration)
            db.session.add_all([course, lesson])
            db.session.flush()
            return lesson.id


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 — our own loopback server
        assert response.status == 200, url
        return response.read()


def assert_plays(url: str) -> None:
    """ffprobe sees a video stream and ffmpeg decodes five video frames from `url`."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert "video" in {s["codec_type"] for s in json.loads(probe.stdout)["streams"]}
    decoded = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-map", "0:v:0", "-frames:v", "5", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert decoded.returncode == 0, decoded.stderr
    frames = [line for line in decoded.stdout.splitlines() if line and not line.startswith("#")]
    assert len(frames) == 5, decoded.stdout


def test_urls_from_the_m3u_and_the_maccms_api_play_in_ffmpeg(
    app, live_server, played_lesson, create_branch, make_device
):
    device_id, key = make_device(create_branch("东山村党支部"))

    # M3U as Kodi / VLC get it: one base URL with the key in the path
    playlist = fetch(f"{live_server}/tv/k/{key}/tv/playlist.m3u").decode("utf-8").splitlines()
    assert playlist[0] == "#EXTM3U"
    assert playlist[1].endswith(",乡村振兴， 第一课 第1讲 ＂开篇＂")
    hls = playlist[2]
    assert hls == f"{live_server}/tv/k/{key}/tv/play/{played_lesson}/master.m3u8"
    mp4 = fetch(f"{live_server}/tv/k/{key}/tv/playlist.m3u?format=mp4").decode("utf-8").splitlines()[2]

    # MacCMS as a TVBox-style app gets it: ?key= in the query; the episode URLs carry the key anyway
    detail = json.loads(fetch(f"{live_server}/api.php/provide/vod/?ac=detail&key={key}"))
    (vod,) = detail["list"]
    assert vod["vod_play_from"] == "m3u8$$$mp4"
    sources = [source.split("#") for source in vod["vod_play_url"].split("$$$")]
    (vod_hls_name, vod_hls), (_, vod_mp4) = (sources[0][0].split("$"), sources[1][0].split("$"))
    assert vod_hls_name == '第1讲 "开篇"' and f"/tv/k/{key}/" in vod_hls and f"/tv/k/{key}/" in vod_mp4

    for url in (hls, mp4, vod_hls, vod_mp4):
        assert_plays(url)

    # a revoked station's URLs stop playing at once (the redirect is refused, nothing is cached)
    from dangxiao.db_types import utcnow
    from dangxiao.tv.models import Device

    with app.app_context(), atomic():
        db.session.get(Device, device_id).revoked_at = utcnow()
    refused = subprocess.run(["ffprobe", "-v", "error", hls], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
