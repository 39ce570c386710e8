"""Signed, expiring media grants: who holds a URL may play that asset until the grant expires.

Unit tests of issue/check/verify run on a bare Flask app (no database, no request); the HTTP
tests use a really transcoded clip and follow the HLS chain by resolving each relative URL
against the granted one, as a player does, which proves segments inherit the grant.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urljoin

import pytest
from flask import Flask
from sqlalchemy import event, select

from dangxiao.accounts.models import User
from dangxiao.extensions import db
from media import grants
from media.grants import EXPIRED, INVALID, Grant
from tests.media.test_delivery import fetch, make_ready, max_age, referenced

NOW = 1_760_000_000
GRANT_SHAPE = re.compile(r"^[uds]\d+\.[0-9a-z]+\.[A-Za-z0-9_-]{22}$")


@pytest.fixture
def bare():
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k1", MEDIA_GRANT_TTL=3600)
    with app.app_context():
        yield app


def test_issued_grant_verifies_for_its_asset_until_it_expires(bare):
    token = grants.issue(12, grants.member(7), now=NOW)
    assert GRANT_SHAPE.match(token) and token.startswith("u7.")
    assert grants.verify(token, 12, now=NOW) == Grant("u7", NOW + 3600)  # MEDIA_GRANT_TTL
    assert grants.verify(token, 12, now=NOW + 3599) == Grant("u7", NOW + 3600)
    assert grants.check(token, 12, now=NOW + 3600) == EXPIRED and grants.verify(token, 12, now=NOW + 3600) is None
    assert Grant("u7", NOW + 3600).remaining(now=NOW + 3000) == 600
    assert Grant("u7", NOW + 3600).remaining(now=NOW + 9000) == 0

    short = grants.issue(12, grants.device(3), seconds=30, now=NOW)
    assert grants.verify(short, 12, now=NOW + 29) == Grant("d3", NOW + 30)
    assert grants.check(short, 12, now=NOW + 31) == EXPIRED
    assert grants.verify(grants.issue(12, grants.staff(1), now=NOW), 12, now=NOW).subject == "s1"
    # Without `now`, the real clock: a fresh grant is good, one from 7 hours ago has expired.
    assert grants.verify(grants.issue(12, "u7"), 12) is not None
    assert grants.check(grants.issue(12, "u7", now=time.time() - 7 * 3600), 12) == EXPIRED


def test_forged_tampered_foreign_and_garbage_grants_are_invalid(bare):
    token = grants.issue(12, "u7", now=NOW)
    subject, expires, signature = token.split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    later = grants._base36(int(expires, 36) + 86400)
    for bad in [
        f"{subject}.{expires}.{flipped}",  # forged signature
        f"u8.{expires}.{signature}",  # another member
        f"d7.{expires}.{signature}",  # same id, another kind
        f"{subject}.{later}.{signature}",  # expiry pushed back
        f"{subject}.{expires}.{signature[:-1]}",  # truncated
        token + "x",
        token.upper(),
        "",
        "garbage",
        "u7..",
        "x7.abc." + "A" * 22,
        f"{subject}.{expires}.{signature}.extra",
        "u7.zzzzzzzzz." + signature,  # expiry too long to be ours
    ]:
        assert grants.check(bad, 12, now=NOW) == INVALID, bad
        assert grants.verify(bad, 12, now=NOW) is None, bad
    assert grants.check(token, 13, now=NOW) == INVALID  # another asset's grant
    bare.config["SECRET_KEY"] = "k2"
    assert grants.check(token, 12, now=NOW) == INVALID  # the key changed: old grants die
    for subject in ["x1", "u", "u-1", "u1.2", "U1", "u12345678901", ""]:
        with pytest.raises(ValueError):
            grants.issue(12, subject)


@pytest.fixture
def ready(app, make_video) -> dict:
    return make_ready(app, make_video)


def refused(client, url: str, code: str) -> None:
    """403 for players (no Accept), JSON with the code for API clients, the Chinese page otherwise."""
    assert fetch(client, url).status_code == 403, url
    api = fetch(client, url, headers={"Accept": "application/json"})
    assert api.status_code == 403 and api.get_json()["error"]["code"] == code, url
    assert "播放地址" in api.get_json()["error"]["message"]
    page = fetch(client, url, headers={"Accept": "text/html"})
    assert page.status_code == 403 and page.mimetype == "text/html" and "播放地址" in page.get_data(as_text=True)


def test_granted_master_plays_through_and_every_bad_grant_is_a_403(app, client, ready):
    master_url = ready["urls"]["hls"]
    assert re.fullmatch(rf"/media/s1\.[0-9a-z]+\.[\w-]{{22}}/{ready['id']}/{ready['version']}/master\.m3u8", master_url)
    # A player: master → variant → segment, each relative URL resolved against the granted one.
    master = fetch(client, master_url)
    assert master.status_code == 200
    variant_url = urljoin(master_url, referenced(master.get_data(as_text=True))[0])
    variant = fetch(client, variant_url)
    assert variant.status_code == 200 and ready["grant"] in variant_url
    segment_url = urljoin(variant_url, referenced(variant.get_data(as_text=True))[0])
    segment = fetch(client, segment_url)
    assert segment.status_code == 200 and segment.data[:1] == b"\x47" and ready["grant"] in segment_url
    for name in ("fallback", "poster"):
        assert fetch(client, ready["urls"][name]).status_code == 200

    asset_id, tail = ready["id"], f"{ready['id']}/{ready['version']}/master.m3u8"
    with app.app_context():
        expired = grants.issue(asset_id, "u5", now=time.time() - 7 * 3600)
        other = grants.issue(asset_id + 1, "u5")
        short = grants.issue(asset_id, grants.device(3), seconds=30)
    subject, expires, signature = ready["grant"].split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    refused(client, f"/media/{expired}/{tail}", "grant_expired")
    for bad in [
        f"{subject}.{expires}.{flipped}",
        other,
        f"s2.{expires}.{signature}",
        f"{subject}.{grants._base36(int(expires, 36) + 3600)}.{signature}",
        "garbage",
        "u1.1.%00",
    ]:
        refused(client, f"/media/{bad}/{tail}", "grant_invalid")
    refused(client, f"/media/{tail}", "grant_invalid")  # the pre-grant URL carries none
    refused(client, f"/media/{expired}/{ready['id']}/{ready['version']}/video.mp4", "grant_expired")

    # Caches keep a granted response at most until the grant expires, and only privately.
    for name in ("master.m3u8", "video.mp4", "poster.jpg"):
        response = fetch(client, f"/media/{short}/{ready['id']}/{ready['version']}/{name}")
        assert response.status_code == 200 and 28 <= max_age(response) <= 30, name
    ranged = fetch(client, f"/media/{short}/{ready['id']}/{ready['version']}/video.mp4", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and len(ranged.data) == 10

    # Verifying needs no database: a refused request sends no SQL at all.
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert fetch(client, f"/media/{other}/{tail}").status_code == 403
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []


def test_media_library_preview_urls_are_granted_to_the_staff_member(app, api, ready):
    with app.app_context():
        admin_id = db.session.scalar(select(User.id).where(User.username == "mediaadmin"))  # the api fixture
    page = api.client.get(f"/admin/media/{ready['id']}").get_data(as_text=True)
    hls = re.search(r'data-hls="([^"]+)"', page).group(1)
    assert hls.startswith(f"/media/s{admin_id}.") and "6 小时内有效" in page
    state = api.client.get(f"/api/media/assets/{ready['id']}").get_json()
    for name in ("hls", "fallback", "poster"):
        url = state["urls"][name]
        assert url.startswith(f"/media/s{admin_id}.")
        assert fetch(api.client, url).status_code == 200
