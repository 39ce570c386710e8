"""A MacCMS v10 ``/api.php/provide/vod/`` answer, so existing Chinese box apps work unchanged.

A course is a "vod", its lessons are the episodes; categories are the "class" list. The apps
(TVBox and its forks, 影视仓, …) expect MacCMS's quirks: ``code`` 1 even for an empty or
nonsensical query, ``pagecount`` 0 when nothing matched, ``vod_play_from`` naming the sources
``m3u8$$$mp4`` and ``vod_play_url`` ``第1讲$url#第2讲$url$$$…`` with one list per source, so an
episode name must never contain ``$`` or ``#`` (they become the full-width ``＄`` ``＃``).

:func:`parse_query` turns the request's arguments into a :class:`VodQuery` (bad input is not an
error here: it is an empty list, as MacCMS answers it); :func:`document` is pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from dangxiao.tv.m3u import FeedUrls, clean_text

if TYPE_CHECKING:
    from dangxiao.tv.catalog import TvCategory, TvCourse

MIMETYPE = "application/json"
DETAIL_ACTIONS = frozenset({"detail", "videolist"})
MAX_IDS = 100
MAX_HOURS = 24 * 366 * 10
MSG = "数据列表"


@dataclass(frozen=True)
class VodQuery:
    """What a box asked for, normalised (it is also the feed cache's key)."""

    detail: bool = False
    page: int = 1
    limit: int = 20
    type_id: int | None = None
    keyword: str = ""
    hours: int | None = None
    ids: tuple[int, ...] | None = None
    invalid: str = ""  # why nothing can match (the answer is then an empty list)

    def key(self) -> tuple:
        return (self.detail, self.page, self.limit, self.type_id, self.keyword, self.hours, self.ids, self.invalid)


def parse_query(args: Mapping[str, str]) -> VodQuery:
    """The request's ``ac, t, pg, wd, h, ids, limit`` → a VodQuery (needs the app: page size)."""
    from dangxiao.errors import DomainError
    from dangxiao.tv import catalog

    detail = (args.get("ac") or "").strip().lower() in DETAIL_ACTIONS
    try:
        limit = catalog.parse_limit(args.get("limit") or None)
    except DomainError as e:
        return VodQuery(detail=detail, limit=catalog.parse_limit(None), invalid=e.message)
    query = VodQuery(detail=detail, limit=limit)
    try:
        page = catalog.parse_page(args.get("pg") or None)
    except DomainError as e:
        return _invalid(query, e.message)
    query = VodQuery(detail=detail, limit=limit, page=page)
    type_id = _optional_int(args.get("t"))
    if type_id is False:
        return _invalid(query, "分类不存在")
    hours = _optional_int(args.get("h"))
    if hours is False or (hours is not None and hours > MAX_HOURS):
        return _invalid(query, "h 参数无效")
    ids: tuple[int, ...] | None = None
    raw_ids = (args.get("ids") or "").strip()
    if raw_ids:
        parts = [p.strip() for p in raw_ids.split(",") if p.strip()][: MAX_IDS + 1]
        if len(parts) > MAX_IDS or not all(p.isascii() and p.isdigit() and len(p) <= 10 for p in parts):
            return _invalid(query, "ids 参数无效")
        ids = tuple(dict.fromkeys(int(p) for p in parts))
    return VodQuery(
        detail=detail,
        page=page,
        limit=limit,
        type_id=type_id,
        keyword=clean_text(args.get("wd"))[:50],
        hours=hours if hours else None,  # h=0 means "any time", as in MacCMS
        ids=ids,
    )


def _invalid(query: VodQuery, message: str) -> VodQuery:
    return VodQuery(detail=query.detail, page=query.page, limit=query.limit, invalid=message)


def _optional_int(raw: str | None) -> int | None | bool:
    """None when absent or empty, the int when it is a plain non-negative number, else False."""
    text = (raw or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        return False
    return int(text)


def document(
    categories: Sequence[TvCategory],
    courses: Sequence[TvCourse],
    query: VodQuery,
    urls: FeedUrls,
    *,
    zone: tzinfo = UTC,
    now: datetime | None = None,
) -> dict:
    """The MacCMS JSON object for `query` over the station's catalogue (courses newest first)."""
    names = {c.id: clean_text(c.name) for c in categories}
    matched = [] if query.invalid else _select(categories, courses, query, now or datetime.now(UTC))
    total = len(matched)
    start = (query.page - 1) * query.limit
    shown = matched[start : start + query.limit]
    item = _detail if query.detail else _summary
    return {
        "code": 1,
        "msg": query.invalid or MSG,
        "page": query.page,
        "pagecount": math.ceil(total / query.limit),
        "limit": query.limit,
        "total": total,
        "list": [item(course, names, urls, zone) for course in shown],
        "class": [{"type_id": c.id, "type_pid": c.parent_id or 0, "type_name": names[c.id]} for c in categories],
    }


def body(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _select(
    categories: Sequence[TvCategory], courses: Sequence[TvCourse], query: VodQuery, now: datetime
) -> list[TvCourse]:
    found: Iterable[TvCourse] = courses
    if query.ids is not None:
        wanted = set(query.ids)
        found = [c for c in found if c.id in wanted]
    if query.type_id is not None:
        tree = subtree(categories, query.type_id)
        found = [c for c in found if c.category_id in tree]
    if query.keyword:
        needle = query.keyword.casefold()
        found = [c for c in found if needle in c.title.casefold() or needle in (c.teacher or "").casefold()]
    if query.hours:
        cutoff = now - timedelta(hours=query.hours)
        found = [c for c in found if _aware(c.updated_at) >= cutoff]
    return list(found)


def subtree(categories: Sequence[TvCategory], root: int) -> set[int]:
    """`root` and every category under it (a parent type lists its children's vods, as in MacCMS)."""
    if root not in {c.id for c in categories}:
        return set()
    tree, grew = {root}, True
    while grew:
        more = {c.id for c in categories if c.parent_id in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _summary(course: TvCourse, names: dict[int, str], urls: FeedUrls, zone: tzinfo) -> dict:
    return {
        "vod_id": course.id,
        "vod_name": clean_text(course.title),
        "type_id": course.category_id or 0,
        "type_name": names.get(course.category_id or 0, ""),
        "vod_time": _aware(course.updated_at).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        "vod_remarks": f"共{len(course.lessons)}讲",
        "vod_pic": urls.cover(course.id),
        "vod_play_from": "m3u8$$$mp4",
    }


def _detail(course: TvCourse, names: dict[int, str], urls: FeedUrls, zone: tzinfo) -> dict:
    lessons = sorted(course.lessons, key=lambda x: (x.position, x.id))
    teacher = clean_text(course.teacher)
    summary = (course.summary or "").strip()
    return {
        **_summary(course, names, urls, zone),
        "vod_class": names.get(course.category_id or 0, ""),
        "vod_director": teacher,
        "vod_actor": teacher,
        "vod_blurb": clean_text(summary)[:100],
        "vod_content": summary,
        "vod_year": str(_aware(course.updated_at).astimezone(zone).year),
        "vod_area": "",
        "vod_lang": "",
        "vod_play_server": "no$$$no",
        "vod_play_note": "",
        "vod_play_url": "$$$".join(
            "#".join(f"{episode_name(lesson)}${_url(link(lesson.id))}" for lesson in lessons)
            for link in (urls.hls, urls.mp4)
        ),
    }


def episode_name(lesson) -> str:
    """``第N讲 标题`` without the separators of vod_play_url (and without repeating 第N讲)."""
    number = f"第{lesson.position}讲"
    title = clean_text(lesson.title)
    name = f"{number} {title}" if title and title != number else number
    return name.replace("$", "＄").replace("#", "＃")


def _url(url: str) -> str:
    return url.replace("$", "%24").replace("#", "%23")
