"""An admin uploads a video in Chromium, watches it transcode, and it plays through hls.js.

Debian's Chromium plays H.264/AAC through Media Source Extensions (checked below with
MediaSource.isTypeSupported), so this is real playback of our HLS output, not a stub.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

import pytest

from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from dangxiao.vendor import NODE_MODULES
from media import library
from media.models import MediaAsset
from media.tasks import run_job
from tests.e2e.journeys import log_in
from tests.media.conftest import generate
from tests.support.binaries import in_ci, require

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHUNK = 64 * 1024
PLAYING = """() => {
  const v = document.querySelector('#player');
  return v && v.dataset.engine === 'hls.js' && v.currentTime > 0.5 && !v.paused;
}"""


@pytest.fixture(autouse=True)
def hls_js_installed() -> None:
    if not Path(NODE_MODULES, "hls.js/dist/hls.min.js").is_file():
        message = "node_modules/hls.js 不存在：请先运行 npm install（make npm-deps）"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def make_video(tmp_path):
    """Tiny lavfi clips, as in tests/media (that conftest is not visible from here)."""
    require("ffmpeg")
    return lambda name, **options: generate(tmp_path / name, **options)


@pytest.fixture
def app_config(app_config):
    app_config["MEDIA_CHUNK_MAX_BYTES"] = CHUNK
    return app_config


def test_chromium_can_decode_our_codecs(page, live_server):
    page.goto(live_server + "/")
    support = page.evaluate("""() => ({
      mse: MediaSource.isTypeSupported('video/mp4; codecs="avc1.4d401e,mp4a.40.2"'),
      mp4: document.createElement('video').canPlayType('video/mp4; codecs="avc1.4d401e, mp4a.40.2"'),
    })""")
    assert support["mse"] is True, "Debian's Chromium build lacks H.264/AAC in MSE: hls.js cannot play"
    assert support["mp4"] in ("probably", "maybe")


def test_ready_asset_plays_in_the_browser_through_hls_js(app, page, live_server, create_user, make_video):
    admin_id = create_user("mediaadmin", roles=["admin"])
    with app.app_context():
        with atomic():
            asset = library.import_file(SYSTEM, make_video("lesson.mp4", seconds=6), "党课示例").asset
        run_job(asset.job.id)
        asset_id = asset.id
    log_in(page, live_server, "mediaadmin")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server}/admin/media/{asset_id}")
    assert page.get_by_test_id("asset-status").inner_text() == "可播放"
    page.wait_for_function(PLAYING, timeout=20000)
    video = page.locator("#player")
    # The preview plays from URLs granted to this admin (s<id>); segments inherit the grant.
    granted = rf"/media/s{admin_id}\.[0-9a-z]+\.[\w-]{{22}}/{asset_id}/v[0-9a-f]+/"
    assert re.search(granted + r"poster\.jpg$", video.get_attribute("poster"))
    assert re.search(granted + r"master\.m3u8$", video.get_attribute("data-hls"))
    assert page.evaluate("() => document.querySelector('#player').videoWidth") == 320
    segments = [url for url in requested if url.endswith(".ts")]
    assert segments and all(re.search(granted, url) for url in segments)
    # The same file without the grant is refused to the very same logged-in browser.
    plain = "/media/" + "/".join(video.get_attribute("data-hls").split("/")[3:])
    assert page.evaluate("url => fetch(url).then(r => r.status)", plain) == 403
    # A grant that expired while the page was open (the server answers 403): the player says
    # to reload instead of falling back to the MP4, which would be refused as well.
    page.route(re.compile(r".*/master\.m3u8$"), lambda route: route.fulfill(status=403, body="grant_expired"))
    page.reload()
    alert = page.locator("[data-player-error]")
    alert.wait_for(timeout=20000)
    assert "刷新页面" in alert.inner_text() and video.get_attribute("data-engine") == "hls.js"


def test_admin_uploads_in_chunks_survives_a_dropped_chunk_and_plays_the_result(
    app, page, live_server, create_user, make_video
):
    create_user("uploader", roles=["admin"])
    source = make_video("上传测试.mp4", seconds=4, crf=18)
    assert source.stat().st_size > 4 * CHUNK
    patches: list[str] = []

    def drop_third_chunk(route):
        patches.append(route.request.headers.get("upload-offset", ""))
        if len(patches) == 3:
            route.abort("connectionreset")  # the network drops once mid-upload
        else:
            route.continue_()

    log_in(page, live_server, "uploader")
    page.route(
        re.compile(r".*/api/media/uploads/\d+$"),
        lambda route: drop_third_chunk(route) if route.request.method == "PATCH" else route.continue_(),
    )
    page.goto(live_server + "/admin/media/upload")
    page.set_input_files("#upload-file", str(source))
    page.get_by_label("标题").fill("浏览器上传")
    page.get_by_role("button", name="开始上传").click()
    page.wait_for_url(re.compile(r".*/admin/media/\d+$"), timeout=30000)
    asset_id = int(page.url.rsplit("/", 1)[1])
    assert patches[2] == patches[3], "after the drop the client must resend from the server's offset"

    with app.app_context():
        asset = db.session.get(MediaAsset, asset_id)
        assert asset.title == "浏览器上传"
        assert asset.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        job_id = asset.job.id
    assert page.get_by_test_id("asset-status").inner_text() == "排队中"

    # A worker picks it up while the page is open; the page follows by itself and then plays.
    worker = threading.Thread(target=lambda: _run_in_context(app, job_id))
    worker.start()
    page.wait_for_function(PLAYING, timeout=60000)
    worker.join(timeout=60)
    assert page.get_by_test_id("asset-status").inner_text() == "可播放"


def _run_in_context(app, job_id: int) -> None:
    with app.app_context():
        run_job(job_id)
