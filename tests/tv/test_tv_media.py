"""Stable play/poster/cover URLs: a redirect to a fresh grant for the station, or a 404 that leaks nothing."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from PIL import Image

from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.school import files
from dangxiao.school.models import Course, CourseAssignment, Lesson
from dangxiao.transactions import atomic
from media import grants, library
from media.tasks import run_job
from tests.media.conftest import generate
from tests.support.binaries import require

GRANTED = re.compile(
    r"^http://localhost(?P<root>/tv/k/[^/]+)?/media/(?P<grant>[^/]+)/(?P<asset>\d+)/[^/]+/(?P<name>.+)$"
)


@pytest.fixture
def station(create_branch, make_device):
    branch = create_branch("东村支部")
    other = create_branch("西村支部")
    device_id, key = make_device(branch)
    return {"branch": branch, "other": other, "device_id": device_id, "key": key}


def granted(response, asset_id: int, device_id: int, name: str) -> re.Match:
    """The redirect points at the media file under a valid grant for this station's subject."""
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    match = GRANTED.match(response.headers["Location"])
    assert match, response.headers["Location"]
    assert int(match["asset"]) == asset_id and match["name"] == name
    grant = grants.verify(match["grant"], asset_id)
    assert grant is not None and grant.subject == grants.device(device_id)
    return match


def test_play_and_poster_redirect_to_granted_media(app, client, station, make_course):
    made = make_course()
    lesson_id, asset_id = made.lesson_ids[1], made.asset_ids[1]
    headers = {"X-Device-Key": station["key"]}
    with app.app_context():
        for path, name in (("master.m3u8", "master.m3u8"), ("video.mp4", "video.mp4")):
            granted(client.get(f"/tv/play/{lesson_id}/{path}", headers=headers), asset_id, station["device_id"], name)
        granted(
            client.get(f"/tv/poster/{lesson_id}.jpg", headers=headers), asset_id, station["device_id"], "poster.jpg"
        )
        # Through the key prefix (VLC sends no header): the media URL keeps the prefix.
        under = client.get(f"/tv/k/{station['key']}/tv/play/{lesson_id}/video.mp4")
        assert granted(under, asset_id, station["device_id"], "video.mp4")["root"] == f"/tv/k/{station['key']}"
        # A course without a cover: its first lesson's poster.
        cover = client.get(f"/tv/cover/{made.id}.jpg", headers=headers)
        granted(cover, made.asset_ids[0], station["device_id"], "poster.jpg")


def test_course_cover_is_served_to_the_station(app, client, station, make_course):
    made = make_course()
    picture = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 30, 30)).save(picture, "PNG")
    with app.app_context(), atomic():
        files.save_cover(SYSTEM, made.id, picture.getvalue())
    with client.get(f"/tv/cover/{made.id}.jpg", headers={"X-Device-Key": station["key"]}) as response:
        body = response.data
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert body[:3] == b"\xff\xd8\xff" and response.headers["Cache-Control"] == "private, no-cache"
    conditional = {"X-Device-Key": station["key"], "If-None-Match": response.headers["ETag"]}
    with client.get(f"/tv/cover/{made.id}.jpg", headers=conditional) as again:
        assert again.status_code == 304


def test_what_the_station_may_not_watch_is_a_404(app, client, station, make_course):
    others = make_course(open_to_all=False, required=True, title="西村必修课")
    with app.app_context(), atomic():
        db.session.add(
            CourseAssignment(course_id=others.id, branch_id=station["other"], year=2026, deadline=date(2026, 12, 31))
        )
    unpublished = make_course(published=False)
    not_ready = make_course(ready=False)
    headers = {"X-Device-Key": station["key"]}
    for lesson_id in (others.lesson_ids[0], unpublished.lesson_ids[0], not_ready.lesson_ids[0], 987654):
        for url in (
            f"/tv/play/{lesson_id}/master.m3u8",
            f"/tv/play/{lesson_id}/video.mp4",
            f"/tv/poster/{lesson_id}.jpg",
        ):
            refused = client.get(url, headers=headers)
            assert refused.status_code == 404, url
            assert refused.get_json()["error"]["code"] == "lesson_not_found"
            assert "Location" not in refused.headers
    assert client.get(f"/tv/cover/{others.id}.jpg", headers=headers).status_code == 404
    # The other branch's station does get it; no key at all is a 401 with nothing in it.
    assert client.get(f"/tv/play/{others.lesson_ids[0]}/video.mp4").status_code == 401


class TestRealMedia:
    @pytest.fixture(params=["sqlite"])
    def backend(self, request) -> str:
        """One transcode is enough: the redirect and delivery do not depend on the database."""
        return request.param

    def test_redirect_plays_a_transcoded_lesson(self, app, client, station, tmp_path):
        require("ffmpeg")
        with app.app_context():
            with atomic():
                asset = library.import_file(SYSTEM, generate(tmp_path / "lesson.mp4", seconds=2), "党课").asset
            run_job(asset.job.id)
            with atomic():
                course = Course(title="真实课程", year=2026, published=True, open_to_all=True)
                lesson = Lesson(course=course, position=1, title="第1讲", asset_id=asset.id, duration=2.0)
                db.session.add_all([course, lesson])
                db.session.flush()
                lesson_id = lesson.id
        headers = {"X-Device-Key": station["key"]}
        with client.get(client.get(f"/tv/play/{lesson_id}/video.mp4", headers=headers).headers["Location"]) as mp4:
            assert mp4.status_code == 200 and mp4.mimetype == "video/mp4" and mp4.data[4:8] == b"ftyp"
        with client.get(client.get(f"/tv/play/{lesson_id}/master.m3u8", headers=headers).headers["Location"]) as master:
            assert master.status_code == 200 and master.get_data(as_text=True).startswith("#EXTM3U")
