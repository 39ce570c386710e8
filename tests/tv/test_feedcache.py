"""feedcache.serve through a tiny device endpoint: ETag/304 variants, gzip, HEAD, one build per version."""

from __future__ import annotations

import gzip
import json

import pytest
from flask import Blueprint, request

from dangxiao import access
from dangxiao.tv import catalog, changes, feedcache


@pytest.fixture
def probe(app):
    """GET /tv-probe/feed (DEVICE): the station's course titles, padded so gzip is worth it."""
    builds: list[int] = []
    bp = Blueprint("tv_probe", __name__)

    @bp.get("/tv-probe/feed")
    def feed():
        device = access.current_device()
        version, changed_at = changes.current_version()
        page = catalog.parse_page(request.args.get("page"))

        def build() -> tuple[bytes, str]:
            builds.append(version)
            titles = [course.title for course in catalog.catalog_for(device, (version, changed_at)).courses]
            return json.dumps({"page": page, "titles": titles, "pad": "课" * 500}).encode(), "application/json"

        return feedcache.serve("probe", (page,), build, device=device, version=version, changed_at=changed_at)

    access.register(app, bp, {"feed": access.DEVICE})
    return builds


@pytest.fixture
def station(create_branch, make_device, make_course):
    make_course(title="党史学习")
    return make_device(create_branch())[1]


def get(client, key, **headers):
    return client.get("/tv-probe/feed", headers={"X-Device-Key": key, **headers})


def test_etag_304_and_one_build_per_version(client, probe, station, make_course):
    first = get(client, station)
    assert first.status_code == 200 and first.get_json()["titles"] == ["党史学习"]
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert "Accept-Encoding" in first.headers["Vary"]
    assert first.headers["Last-Modified"].endswith("GMT")

    for match in (etag, f"W/{etag}", f'"stale", {etag}', f'W/"x",W/{etag}', "*"):
        again = get(client, station, **{"If-None-Match": match})
        assert again.status_code == 304, match
        assert again.data == b"" and again.headers["ETag"] == etag
    for match in ('"stale"', "garbage", 'W/""', etag[:-2] + '"', ""):
        assert get(client, station, **{"If-None-Match": match}).status_code == 200, match
    last_modified = first.headers["Last-Modified"]
    assert get(client, station, **{"If-Modified-Since": last_modified}).status_code == 304
    assert get(client, station, **{"If-Modified-Since": "not a date"}).status_code == 200
    assert get(client, station, **{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
    # If-None-Match wins over If-Modified-Since.
    assert get(client, station, **{"If-None-Match": '"stale"', "If-Modified-Since": last_modified}).status_code == 200
    assert len(probe) == 1  # built once for all of the above

    client.get("/tv-probe/feed?page=2", headers={"X-Device-Key": station})
    assert len(probe) == 2  # other parameters, another body

    make_course(title="新课程")  # a new version: rebuilt, and the old ETag no longer matches
    changed = get(client, station, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["titles"] == ["新课程", "党史学习"]
    assert changed.headers["ETag"] != etag and len(probe) == 3


def test_gzip_head_and_keys(client, probe, station):
    plain = get(client, station, **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    zipped = get(client, station, **{"Accept-Encoding": "deflate, gzip;q=0.5"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data and len(zipped.data) < len(plain.data)
    assert zipped.headers["ETag"] == plain.headers["ETag"]
    assert get(client, station, **{"Accept-Encoding": "*"}).headers.get("Content-Encoding") == "gzip"
    for refused in ("gzip;q=0", "br", "*;q=0", "gzip;q=0, *"):
        assert "Content-Encoding" not in get(client, station, **{"Accept-Encoding": refused}).headers, refused

    head = client.head("/tv-probe/feed", headers={"X-Device-Key": station})
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == plain.headers["ETag"]
    assert int(head.headers["Content-Length"]) == len(plain.data)
    conditional = client.head(
        "/tv-probe/feed", headers={"X-Device-Key": station, "If-None-Match": head.headers["ETag"]}
    )
    assert conditional.status_code == 304
    assert len(probe) == 1

    # The key as a path prefix is another way in (its bodies would carry it): a separate entry.
    prefixed = client.get(f"/tv/k/{station}/tv-probe/feed")
    assert prefixed.status_code == 200 and prefixed.get_json() == plain.get_json()
    assert len(probe) == 2

    for headers in ({}, {"X-Device-Key": "garbage"}, {"X-Device-Key": "A" * 43}):
        refused = client.get("/tv-probe/feed", headers=headers)
        assert refused.status_code == 401
        assert refused.get_json()["error"]["code"] == "device_key_required"
        assert "党史学习" not in refused.get_data(as_text=True)
