"""`seed-demo` leaves media that really plays: ready assets with playlists, MP4/M4A and posters."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dangxiao.extensions import db
from media import storage
from media.demo import DEMO_MEDIA
from media.models import AssetStatus, MediaAsset

pytestmark = pytest.mark.slow


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_seed_demo_creates_playable_media_once(app, runner, require_ffmpeg):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    with app.app_context():
        assets = list(db.session.scalars(select(MediaAsset)))
        assert len(assets) == len(DEMO_MEDIA)
        for asset in assets:
            assert asset.status == AssetStatus.ready, (asset.title, asset.failure_reason)
            folder = storage.absolute(asset.output_dir)
            assert (folder / "master.m3u8").is_file() and (folder / "poster.jpg").is_file()
            assert (folder / "video.mp4").is_file() or (folder / "audio.m4a").is_file()
    second = runner.invoke(args=["seed-demo"])
    assert "演示媒体已存在" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MediaAsset)) == len(DEMO_MEDIA)
