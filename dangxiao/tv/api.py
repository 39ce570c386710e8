"""The station JSON API: the catalogue (JSON and XML) and its OpenAPI description.

```
GET /api/tv/v1/catalog?page=&limit=&category=&updated_since=   (X-Device-Key, ?key= or /tv/k/<key>/)
GET /api/tv/v1/catalog.xml?…                                    the same document as XML
GET /api/tv/v1/openapi.json                                     OpenAPI 3.0.3 (public)
```
``catalog.catalog_for`` decides what the station sees; this module only shapes it. Every answer
goes through ``feedcache.serve``, keyed by the catalogue version, so a box polling an
unchanged catalogue costs a dictionary lookup and gets a 304. With ``updated_since`` a box on
a slow line gets only the courses changed since then (a course comes whole, with all its
lessons) and, on page 1, the tombstones of what it must delete; ``next_since`` is what it sends
next time. ``full: true`` means "replace your copy": no ``updated_since``, or one older than
the tombstones are kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, current_app, jsonify, request

from dangxiao.access import DEVICE, PUBLIC, current_device
from dangxiao.db_types import aware, utcnow
from dangxiao.tv import catalog as service
from dangxiao.tv import feedcache, xmlfeed
from dangxiao.tv.m3u import FeedUrls

if TYPE_CHECKING:
    from dangxiao.tv.catalog import Catalog, Page, TvCategory, TvCourse, TvTombstone

bp = Blueprint("tv_api", __name__, url_prefix="/api/tv/v1")
BLUEPRINTS = [(bp, {"catalog": DEVICE, "catalog_xml": DEVICE, "openapi": PUBLIC}, True)]

JSON_MIMETYPE = "application/json"
_MARKER = 987654321  # an id no row has: url_for runs once per URL kind, not once per lesson


# --- pure shaping ------------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """UTC, whole seconds, ``Z``: no ``+`` a box could forget to escape when it sends it back."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def exact_iso(value: datetime) -> str:
    """Like iso() to the microsecond: ``next_since`` must not make a box fetch the last change again."""
    return aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def course_json(course: TvCourse, urls: FeedUrls) -> dict[str, Any]:
    return {
        "id": course.id,
        "title": course.title,
        "summary": course.summary,
        "teacher": course.teacher,
        "category_id": course.category_id,
        "required": bool(course.required),
        "credit_hours": float(course.credit_hours),
        "updated_at": iso(course.updated_at),
        "cover_url": urls.cover(course.id),
        "lessons": [
            {
                "id": lesson.id,
                "position": lesson.position,
                "title": lesson.title,
                "duration": round(float(lesson.duration), 3),
                "poster_url": urls.poster(lesson.id),
                "hls_url": urls.hls(lesson.id),
                "mp4_url": urls.mp4(lesson.id),
                "updated_at": iso(lesson.updated_at),
            }
            for lesson in sorted(course.lessons, key=lambda x: (x.position, x.id))
        ],
    }


def catalog_document(
    *,
    version: int,
    changed_at: datetime,
    categories: Sequence[TvCategory],
    page: Page,
    full: bool,
    removed: Iterable[TvTombstone],
    urls: FeedUrls,
    generated_at: datetime,
) -> dict[str, Any]:
    """The JSON document (the XML feed is the same dict, element for key)."""
    return {
        "version": version,
        "generated_at": iso(generated_at),
        "page": page.page,
        "pages": page.pages,
        "total": page.total,
        "limit": page.limit,
        "full": full,
        "next_since": exact_iso(changed_at),
        "categories": [
            {"id": c.id, "parent_id": c.parent_id, "name": c.name}
            for c in categories  # the catalogue's order: parents' positions, then position
        ],
        "courses": [course_json(course, urls) for course in page.items],
        "removed": [
            {"type": t.kind, "id": t.id, "course_id": t.course_id, "removed_at": iso(t.removed_at)} for t in removed
        ],
    }


def json_body(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- request helpers (shared with feed_views) --------------------------------------------------


def request_urls() -> FeedUrls:
    """The station's media URLs for this request: absolute, carrying its key (devices.device_url)."""
    from dangxiao.tv.devices import device_url

    def template(endpoint: str, arg: str):
        head, _, tail = device_url(endpoint, **{arg: _MARKER}).rpartition(str(_MARKER))
        return lambda ident: f"{head}{ident}{tail}"

    return FeedUrls(
        hls=template("tv_media.hls", "lesson_id"),
        mp4=template("tv_media.mp4", "lesson_id"),
        poster=template("tv_media.poster", "lesson_id"),
        cover=template("tv_media.cover", "course_id"),
    )


def in_category(catalog: Catalog, courses: Sequence[TvCourse], category_id: int | None) -> list[TvCourse]:
    """Courses of the category or any category under it."""
    if category_id is None:
        return list(courses)
    from dangxiao.tv.maccms import subtree

    tree = subtree(catalog.categories, category_id)
    return [c for c in courses if c.category_id in tree]


def arg(name: str) -> str | None:
    """A query argument, with an empty value counting as absent."""
    return request.args.get(name) or None


# --- views -------------------------------------------------------------------------------------


def _serve(kind: str):
    device = current_device()
    args = request.args  # read once: each `request.` is a context lookup, and this is the hot path
    page = service.parse_page(args.get("page") or None)
    limit = service.parse_limit(args.get("limit") or None)
    since = service.parse_since(args.get("updated_since") or None)
    cat = service.catalog_for(device)
    category = service.check_category(cat, args.get("category") or None)

    def build() -> tuple[bytes, str]:
        if since is None:
            courses, removed, full = list(cat.courses), [], True
        else:
            courses, removed, full = service.delta(device, cat, since)
        shown = service.paginate(in_category(cat, courses, category), page, limit)
        doc = catalog_document(
            version=cat.version,
            changed_at=cat.changed_at,
            categories=cat.categories,
            page=shown,
            full=full,
            removed=removed if page == 1 else (),
            urls=request_urls(),
            generated_at=utcnow(),
        )
        if kind == "xml":
            return xmlfeed.document(doc), xmlfeed.MIMETYPE
        return json_body(doc), JSON_MIMETYPE

    params = (page, limit, category, since.isoformat() if since else None)
    return feedcache.serve(
        f"catalog.{kind}", params, build, device=device, version=cat.version, changed_at=cat.changed_at
    )


@bp.get("/catalog")
def catalog():
    return _serve("json")


@bp.get("/catalog.xml")
def catalog_xml():
    return _serve("xml")


@bp.get("/openapi.json")
def openapi():
    from dangxiao.tv.openapi import spec

    response = jsonify(spec(int(current_app.config["TV_PAGE_MAX"])))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
