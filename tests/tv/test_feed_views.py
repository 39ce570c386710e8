"""The feeds over HTTP: JSON, XML, M3U and MacCMS for a registered station.

What each station sees is catalog's business (tests of its own); here: the views wire keys,
parameters, URLs and the feed cache together, answer bad input with JSON codes (never a
500), and every feed's URLs carry the key and lead to the station's media.
"""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest

from dangxiao.extensions import db
from dangxiao.transactions import atomic

FEEDS = ["/api/tv/v1/catalog", "/api/tv/v1/catalog.xml", "/tv/playlist.m3u", "/api.php/provide/vod/"]


@pytest.fixture
def station(app, create_branch, make_device, make_course):
    """A station of a branch, two open courses and another branch's member-only course."""
    from dangxiao.school.models import CourseAssignment

    branch = create_branch("东山村党支部")
    other = create_branch("西山村党支部")
    device_id, key = make_device(branch)
    first = make_course(durations=(600.0, 900.0), title="乡村振兴,第一课", category="理论学习")
    second = make_course(durations=(300.0,), title="果树栽培", category="实用技术")
    hidden = make_course(durations=(300.0,), title="西山内部课", open_to_all=False)
    with app.app_context(), atomic():
        db.session.add(CourseAssignment(course_id=hidden.id, branch_id=other, year=2026, deadline=date(2026, 12, 31)))
    return {"key": key, "device_id": device_id, "first": first, "second": second, "hidden": hidden}


def get(client, path, key=None, **kw):
    headers = kw.pop("headers", {})
    if key:
        headers["X-Device-Key"] = key
    return client.get(path, headers=headers, **kw)


def test_every_feed_refuses_a_missing_or_garbage_key(client, station):
    for path in FEEDS:
        for headers in ({}, {"X-Device-Key": "x" * 43}, {"X-Device-Key": "短"}):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.get_json()["error"]["code"] == "device_key_required"
            assert "西山" not in response.get_data(as_text=True)


def test_json_catalog_lists_what_the_station_sees_with_key_carrying_urls(client, station, app):
    key = station["key"]
    response = get(client, "/api/tv/v1/catalog", key)
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["full"] is True and doc["page"] == 1 and doc["total"] == 2 and doc["removed"] == []
    titles = {c["title"] for c in doc["courses"]}
    assert titles == {"乡村振兴,第一课", "果树栽培"}
    assert {c["name"] for c in doc["categories"]} == {"理论学习", "实用技术"}
    lesson = next(c for c in doc["courses"] if c["id"] == station["first"].id)["lessons"][0]
    assert lesson["hls_url"] == f"http://localhost/tv/k/{key}/tv/play/{lesson['id']}/master.m3u8"
    assert lesson["mp4_url"].endswith(f"/tv/k/{key}/tv/play/{lesson['id']}/video.mp4")
    # the URL works as it is, without a header (what VLC does): a redirect to granted media
    played = client.get(lesson["hls_url"].removeprefix("http://localhost"))
    assert played.status_code == 302 and "/media/d" in played.headers["Location"]
    # pages, limit, category
    paged = get(client, "/api/tv/v1/catalog?limit=1&page=2", key).get_json()
    assert (paged["page"], paged["pages"], paged["total"], len(paged["courses"])) == (2, 2, 2, 1)
    category = station["second"].category_id
    only = get(client, f"/api/tv/v1/catalog?category={category}", key).get_json()
    assert [c["title"] for c in only["courses"]] == ["果树栽培"]


BAD_CATALOG_QUERIES = [
    ("page=0", 400, "page_invalid"),
    ("page=-1", 400, "page_invalid"),
    ("page=1000000", 400, "page_invalid"),
    ("limit=abc", 400, "limit_invalid"),
    ("updated_since=yesterday", 400, "updated_since_invalid"),
    ("updated_since=2999-01-01T00:00:00Z", 400, "updated_since_future"),
    ("category=999999", 404, "category_not_found"),
]


def test_json_catalog_bad_input(client, station):
    for query, status, code in BAD_CATALOG_QUERIES:
        for path in ("/api/tv/v1/catalog", "/api/tv/v1/catalog.xml"):
            response = get(client, f"{path}?{query}", station["key"])
            assert response.status_code == status and response.get_json()["error"]["code"] == code, (path, query)


def test_delta_sync_reports_changes_and_tombstones(client, station, app):
    app.config["TV_DELTA_OVERLAP_SECONDS"] = 0  # exact deltas (the look-back is tested in test_catalog)
    key = station["key"]
    first = get(client, "/api/tv/v1/catalog", key).get_json()
    since = first["next_since"]
    assert get(client, f"/api/tv/v1/catalog?updated_since={since}", key).get_json()["courses"] == []
    from dangxiao.school.models import Course

    with app.app_context(), atomic():
        db.session.get(Course, station["second"].id).published = False
    delta = get(client, f"/api/tv/v1/catalog?updated_since={since}", key).get_json()
    assert delta["full"] is False and delta["version"] > first["version"] and delta["courses"] == []
    assert [(r["type"], r["id"]) for r in delta["removed"]] == [("course", station["second"].id)]
    old = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert get(client, f"/api/tv/v1/catalog?updated_since={old}", key).get_json()["full"] is True


def test_xml_is_the_json_document(client, station):
    key = station["key"]
    doc = get(client, "/api/tv/v1/catalog", key).get_json()
    response = get(client, "/api/tv/v1/catalog.xml", key)
    assert response.status_code == 200 and response.content_type == "application/xml; charset=utf-8"
    root = ET.fromstring(response.data)  # noqa: S314 — our own output
    assert root.tag == "catalog" and root.findtext("version") == str(doc["version"])
    courses = root.findall("courses/course")
    assert [c.findtext("title") for c in courses] == [c["title"] for c in doc["courses"]]
    assert courses[0].findtext("lessons/lesson/hls_url") == doc["courses"][0]["lessons"][0]["hls_url"]


def test_m3u_under_the_key_prefix_carries_the_prefix_and_plays(client, station):
    key = station["key"]
    response = client.get(f"/tv/k/{key}/tv/playlist.m3u")
    assert response.status_code == 200 and response.mimetype == "audio/x-mpegurl"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 1 + 2 * 3  # three ready lessons
    assert any('group-title="乡村振兴，第一课"' in line and line.endswith(",乡村振兴，第一课 第1讲") for line in lines)
    urls = lines[2::2]
    assert all(url.startswith(f"http://localhost/tv/k/{key}/tv/play/") for url in urls)
    assert all(url.endswith("/master.m3u8") for url in urls)
    mp4 = client.get(f"/tv/playlist.m3u?format=mp4&key={key}").get_data(as_text=True).splitlines()
    assert all(url.endswith("/video.mp4") and f"/tv/k/{key}/" in url for url in mp4[2::2])
    bad = client.get(f"/tv/playlist.m3u?format=avi&key={key}")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "format_invalid"
    unknown = client.get(f"/tv/playlist.m3u?category=424242&key={key}")
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "category_not_found"


def test_maccms_list_and_detail(client, station):
    key = station["key"]
    path = "/api.php/provide/vod/"
    listed = client.get(f"/tv/k/{key}{path}?ac=list")
    assert listed.status_code == 200
    doc = listed.get_json()
    assert (
        doc["code"] == 1
        and doc["total"] == 2
        and {v["vod_name"] for v in doc["list"]}
        == {
            "乡村振兴,第一课",
            "果树栽培",
        }
    )
    assert {c["type_name"] for c in doc["class"]} == {"理论学习", "实用技术"}
    ids = f"{station['first'].id},{station['hidden'].id}"  # another branch's member-only course is not there
    detail = client.get(f"/tv/k/{key}{path}?ac=videolist&ids={ids}").get_json()
    (vod,) = detail["list"]
    hls, mp4 = vod["vod_play_url"].split("$$$")
    names = [episode.split("$")[0] for episode in hls.split("#")]
    assert names == ["第1讲", "第2讲"] and vod["vod_remarks"] == "共2讲"
    assert all(episode.split("$")[1].startswith(f"http://localhost/tv/k/{key}/tv/play/") for episode in mp4.split("#"))


def test_maccms_bad_input_is_code_1_and_empty(client, station):
    bad = ["pg=0", "pg=-5", "pg=99999999999", "t=abc", "t=424242", "ids=abc", "h=soon", "limit=-1", "wd=%00%0A不存在"]
    for query in bad:
        # the path without the slash answers too (box apps differ)
        response = client.get(f"/api.php/provide/vod?ac=detail&{query}", headers={"X-Device-Key": station["key"]})
        assert response.status_code == 200, query
        doc = response.get_json()
        assert doc["code"] == 1 and doc["list"] == [] and doc["page"] >= 1 and isinstance(doc["pagecount"], int)


def test_feeds_are_cached_conditional_and_gzipped(client, station, app):
    key = station["key"]
    for path in FEEDS:
        first = get(client, path, key, headers={"Accept-Encoding": "gzip"})
        assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip", path
        assert first.headers["Cache-Control"] == "private, no-cache" and first.headers["Last-Modified"]
        etag = first.headers["ETag"]
        assert get(client, path, key, headers={"If-None-Match": etag}).status_code == 304
        assert get(client, path, key, headers={"If-None-Match": '"stale", W/' + etag}).status_code == 304
        assert get(client, path, key, headers={"If-None-Match": "garbage\x7f"}).status_code == 200
        assert get(client, path, key, headers={"If-None-Match": '"stale"'}).status_code == 200
        plain = get(client, path, key)
        assert gzip.decompress(first.data) == plain.data and plain.headers["ETag"] == etag
    # a change anywhere in the catalogue is a new ETag on every feed
    from dangxiao.school.models import Lesson

    before = get(client, "/api.php/provide/vod/?ac=detail", key).headers["ETag"]
    with app.app_context(), atomic():
        db.session.get(Lesson, station["first"].lesson_ids[0]).title = "新的标题"
    after = get(client, "/api.php/provide/vod/?ac=detail", key)
    assert after.headers["ETag"] != before and "新的标题" in json.dumps(after.get_json(), ensure_ascii=False)


def test_openapi_is_public(client):
    response = client.get("/api/tv/v1/openapi.json")
    assert response.status_code == 200 and response.get_json()["openapi"] == "3.0.3"
    assert "/api/tv/v1/catalog" in response.get_json()["paths"]
