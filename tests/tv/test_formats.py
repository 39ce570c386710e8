"""The feed formatters on hand-made catalogue data: M3U, MacCMS v10, the JSON document and its XML.

No database: the formatters are pure (catalogue dataclasses and URL callables in, bytes out).
The M3U is read back by three parsers the way real players split an ``#EXTINF`` line.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from dangxiao.tv import api, m3u, maccms, xmlfeed
from dangxiao.tv.catalog import Page, TvCategory, TvCourse, TvLesson, TvTombstone
from dangxiao.tv.m3u import FeedUrls

BASE = "http://tv.example/tv/k/KEY123/"
URLS = FeedUrls(
    hls=lambda i: f"{BASE}tv/play/{i}/master.m3u8",
    mp4=lambda i: f"{BASE}tv/play/{i}/video.mp4",
    poster=lambda i: f"{BASE}tv/poster/{i}.jpg",
    cover=lambda i: f"{BASE}tv/cover/{i}.jpg",
)
NASTY = '学习"二十大",精神\n第二段\r\x07结束'
T0 = datetime(2026, 3, 1, 2, 30, 5, tzinfo=UTC)  # 10:30:05 in Beijing


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:  # no database here
    return request.param


def lesson(id, course_id, position, title, duration=600.0, updated_at=T0) -> TvLesson:
    return TvLesson(id, course_id, position, title, duration, updated_at)


def course(id, title, lessons, category_id=1, updated_at=T0, teacher="王老师", summary="简介") -> TvCourse:
    return TvCourse(
        id=id,
        title=title,
        summary=summary,
        teacher=teacher,
        category_id=category_id,
        required=id == 1,
        credit_hours=1.5,
        has_cover=False,
        updated_at=updated_at,
        lessons=tuple(lessons),
    )


CATEGORIES = (TvCategory(1, None, "理论学习", 1), TvCategory(2, 1, "党史", 1), TvCategory(3, None, "实用技术", 2))
COURSES = (
    course(1, NASTY, [lesson(11, 1, 2, "第2讲"), lesson(10, 1, 1, "开篇$一#二")], category_id=2),
    course(2, "果树栽培", [lesson(20, 2, 1, "修剪")], category_id=3, updated_at=T0 - timedelta(days=2)),
    course(3, "党章学习", [lesson(30, 3, 1, "总纲")], category_id=1, updated_at=T0 - timedelta(days=3)),
)


# --- M3U -----------------------------------------------------------------------------------------

ATTR = re.compile(r'([a-z-]+)="([^"]*)"')


def split_outside_quotes(line: str) -> tuple[str, str]:
    """The careful parsers (VLC, Kodi): the first comma outside double quotes ends the attributes."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            return line[:i], line[i + 1 :]
    raise AssertionError(f"no title in {line!r}")


def parse(body: bytes, splitter) -> list[tuple[dict[str, str], str, str]]:
    lines = body.decode("utf-8").split("\n")
    assert lines[0] == "#EXTM3U" and lines[-1] == ""
    entries = []
    for info, url in zip(lines[1:-1:2], lines[2:-1:2], strict=True):
        assert info.startswith("#EXTINF:-1 ") and not url.startswith("#")
        head, title = splitter(info)
        entries.append((dict(ATTR.findall(head)), title, url))
    return entries


def test_m3u_titles_with_commas_quotes_and_line_breaks_parse_the_same_in_every_player():
    body = m3u.playlist(COURSES, URLS)
    careful = parse(body, split_outside_quotes)
    naive = parse(body, lambda line: tuple(line.split(",", 1)))  # a player splitting at the first comma
    last = parse(body, lambda line: tuple(line.rsplit(",", 1)))  # one splitting at the last comma
    assert careful == naive == last
    assert len(careful) == 4  # one entry per lesson, lessons by position
    attrs, title, url = careful[0]
    assert title == "学习＂二十大＂，精神 第二段 结束 第1讲 开篇$一#二"
    assert attrs == {
        "tvg-id": "lesson-10",
        "tvg-name": "学习＂二十大＂，精神 第二段 结束 第1讲 开篇$一#二",
        "tvg-logo": f"{BASE}tv/poster/10.jpg",
        "group-title": "学习＂二十大＂，精神 第二段 结束",
    }
    assert url == f"{BASE}tv/play/10/master.m3u8"
    assert careful[1][1].endswith(" 第2讲")  # a lesson titled just 第N讲 is not repeated
    assert [e[0]["tvg-id"] for e in careful] == ["lesson-10", "lesson-11", "lesson-20", "lesson-30"]
    assert all("\r" not in line and "\x07" not in line for line in body.decode().split("\n"))


def test_m3u_mp4_format_lists_the_mp4_urls():
    entries = parse(m3u.playlist(COURSES[1:2], URLS, "mp4"), split_outside_quotes)
    assert [url for _, _, url in entries] == [f"{BASE}tv/play/20/video.mp4"]
    assert m3u.playlist([], URLS) == b"#EXTM3U\n"


# --- MacCMS --------------------------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


def vod(query: maccms.VodQuery, now: datetime = T0) -> dict:
    doc = maccms.document(CATEGORIES, COURSES, query, URLS, zone=SHANGHAI, now=now)
    return json.loads(maccms.body(doc))  # what the box reads


def test_maccms_list_shape_and_class_tree():
    doc = vod(maccms.VodQuery(limit=2))
    assert {k: doc[k] for k in ("code", "msg", "page", "pagecount", "limit", "total")} == {
        "code": 1,
        "msg": "数据列表",
        "page": 1,
        "pagecount": 2,
        "limit": 2,
        "total": 3,
    }
    assert doc["class"] == [
        {"type_id": 1, "type_pid": 0, "type_name": "理论学习"},
        {"type_id": 2, "type_pid": 1, "type_name": "党史"},
        {"type_id": 3, "type_pid": 0, "type_name": "实用技术"},
    ]
    first = doc["list"][0]
    assert first == {
        "vod_id": 1,
        "vod_name": '学习"二十大",精神 第二段 结束',
        "type_id": 2,
        "type_name": "党史",
        "vod_time": "2026-03-01 10:30:05",  # site time
        "vod_remarks": "共2讲",
        "vod_pic": f"{BASE}tv/cover/1.jpg",
        "vod_play_from": "m3u8$$$mp4",
    }
    assert [v["vod_id"] for v in vod(maccms.VodQuery(limit=2, page=2))["list"]] == [3]
    past_end = vod(maccms.VodQuery(page=5))
    assert past_end["list"] == [] and (past_end["page"], past_end["pagecount"], past_end["total"]) == (5, 1, 3)


def test_maccms_detail_episodes_use_the_separators_and_never_contain_them():
    doc = vod(maccms.VodQuery(detail=True, ids=(1,)))
    (item,) = doc["list"]
    assert item["vod_play_from"] == "m3u8$$$mp4"
    assert item["vod_content"] == "简介" and item["vod_director"] == "王老师"
    hls, mp4 = item["vod_play_url"].split("$$$")
    assert hls == f"第1讲 开篇＄一＃二${BASE}tv/play/10/master.m3u8#第2讲${BASE}tv/play/11/master.m3u8"
    episodes = [e.split("$") for e in mp4.split("#")]
    assert episodes == [["第1讲 开篇＄一＃二", f"{BASE}tv/play/10/video.mp4"], ["第2讲", f"{BASE}tv/play/11/video.mp4"]]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        (maccms.VodQuery(type_id=1), [1, 3]),  # a parent type lists its children's vods
        (maccms.VodQuery(type_id=2), [1]),
        (maccms.VodQuery(type_id=99), []),  # unknown type: empty, code 1
        (maccms.VodQuery(keyword="果树"), [2]),
        (maccms.VodQuery(keyword="王老"), [1, 2, 3]),  # teacher
        (maccms.VodQuery(hours=30), [1]),
        (maccms.VodQuery(ids=(3, 2, 404)), [2, 3]),
    ],
)
def test_maccms_filters(query, ids):
    doc = vod(query)
    assert doc["code"] == 1 and [v["vod_id"] for v in doc["list"]] == ids and doc["total"] == len(ids)


@pytest.fixture
def config_app():
    app = Flask(__name__)
    app.config.update(TV_PAGE_SIZE=20, TV_PAGE_MAX=100)
    with app.app_context():
        yield app


@pytest.mark.parametrize(
    "args",
    [{"pg": "0"}, {"pg": "-3"}, {"pg": "99999999999"}, {"pg": "abc"}, {"ids": "1,abc"}, {"ids": "1;2"},
     {"t": "x"}, {"t": "-1"}, {"h": "zz"}, {"limit": "0"}, {"limit": "100000"}],
)  # fmt: skip
def test_maccms_bad_input_is_an_empty_list_with_code_1(config_app, args):
    query = maccms.parse_query(args)
    assert query.invalid
    doc = vod(query)
    assert doc["code"] == 1 and doc["list"] == [] and doc["total"] == 0
    assert doc["page"] >= 1 and doc["pagecount"] == 0 and doc["limit"] >= 1


def test_maccms_parse_query(config_app):
    assert maccms.parse_query({}) == maccms.VodQuery(limit=20)
    query = maccms.parse_query({"ac": "videolist", "t": "2", "pg": "3", "wd": " 党\n史 ", "h": "24", "ids": "5, 4,5"})
    assert query == maccms.VodQuery(detail=True, page=3, limit=20, type_id=2, keyword="党 史", hours=24, ids=(5, 4))
    assert maccms.parse_query({"ac": "detail", "h": "0", "limit": "7"}) == maccms.VodQuery(detail=True, limit=7)
    assert maccms.parse_query({"ac": "list"}).detail is False


# --- JSON document and XML -----------------------------------------------------------------------


def catalog_doc() -> dict:
    return api.catalog_document(
        version=7,
        changed_at=T0,
        categories=CATEGORIES,
        page=Page(items=list(COURSES[:1]), page=1, pages=3, total=3, limit=1),
        full=False,
        removed=[TvTombstone("lesson", 12, 1, T0 - timedelta(hours=1))],
        urls=URLS,
        generated_at=T0 + timedelta(seconds=1),
    )


def test_json_document_shape():
    doc = catalog_doc()
    assert list(doc) == [
        "version", "generated_at", "page", "pages", "total", "limit", "full", "next_since",
        "categories", "courses", "removed",
    ]  # fmt: skip
    assert doc["next_since"] == "2026-03-01T02:30:05.000000Z" and doc["generated_at"] == "2026-03-01T02:30:06Z"
    assert doc["categories"][1] == {"id": 2, "parent_id": 1, "name": "党史"}
    (c,) = doc["courses"]
    assert c["cover_url"] == f"{BASE}tv/cover/1.jpg" and c["required"] is True and c["category_id"] == 2
    assert [x["id"] for x in c["lessons"]] == [10, 11]
    assert c["lessons"][0] == {
        "id": 10,
        "position": 1,
        "title": "开篇$一#二",
        "duration": 600.0,
        "poster_url": f"{BASE}tv/poster/10.jpg",
        "hls_url": f"{BASE}tv/play/10/master.m3u8",
        "mp4_url": f"{BASE}tv/play/10/video.mp4",
        "updated_at": "2026-03-01T02:30:05Z",
    }
    assert doc["removed"] == [{"type": "lesson", "id": 12, "course_id": 1, "removed_at": "2026-03-01T01:30:05Z"}]


def from_xml(element: ET.Element):
    """Read our XML back into the JSON shape (lists are the elements with item children)."""
    if element.get("nil") == "true":
        return None
    children = list(element)
    if element.tag in xmlfeed.ITEM_NAMES:
        return [from_xml(child) for child in children]
    if children:
        return {child.tag: from_xml(child) for child in children}
    return element.text or ""


def test_xml_has_the_same_content_as_json():
    doc = catalog_doc()
    body = xmlfeed.document(doc)
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<catalog>") and b"<!DOCTYPE" not in body
    back = from_xml(ET.fromstring(body))  # noqa: S314 — our own output
    # XML is text: compare with the JSON document's values as text, control characters dropped
    as_text = json.loads(json.dumps(doc), parse_int=str, parse_float=str)
    as_text["full"] = "false"
    as_text["courses"][0]["required"] = "true"
    as_text["courses"][0]["title"] = NASTY.replace("\x07", "").replace("\r", "\n")
    as_text["categories"][0]["parent_id"] = None
    assert back == as_text


def test_xml_escapes_markup():
    body = xmlfeed.document({"title": "<b>&amp;</b>]]>", "list": [], "n": None})
    assert b"&lt;b&gt;&amp;amp;&lt;/b&gt;]]&gt;" in body
    assert from_xml(ET.fromstring(body)) == {  # noqa: S314
        "title": "<b>&amp;</b>]]>",
        "list": "",
        "n": None,
    }
