"""The feeds players and box apps already read: an M3U playlist and a MacCMS v10 vod API.

```
GET /tv/playlist.m3u?format=hls|mp4&category=     #EXTM3U, one entry per lesson (VLC, Kodi IPTV Simple)
GET /api.php/provide/vod/?ac=list|detail&t=&pg=&wd=&h=&ids=&limit=    MacCMS v10 JSON (TVBox-style apps)
```
Both also answer under ``/tv/k/<key>/`` (apps that take a base URL and add their own path),
and every media URL in them carries the key, so a player that sends no header still plays.
``m3u`` and ``maccms`` format; ``catalog`` decides; ``feedcache`` answers 304/gzip.
MacCMS apps do not read HTTP errors: a query that cannot match (a bad page, an unknown type)
is ``code`` 1 with an empty list, as MacCMS itself answers it.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from dangxiao.access import DEVICE, current_device
from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError
from dangxiao.tv import m3u, maccms
from dangxiao.tv.api import arg, in_category, request_urls

bp = Blueprint("tv_feeds", __name__)
BLUEPRINTS = [(bp, {"m3u": DEVICE, "maccms": DEVICE}, True)]


def _error(e: DomainError):
    """Feeds are read by machines: errors are JSON whatever the path looks like."""
    return jsonify(error={"code": e.code, "message": e.message}), e.status


@bp.get("/tv/playlist.m3u", endpoint="m3u")
def playlist():
    from dangxiao.tv import catalog as service
    from dangxiao.tv import feedcache

    fmt = (arg("format") or "hls").strip().lower()
    device = current_device()
    try:
        if fmt not in m3u.FORMATS:
            raise DomainError("format 只能是 hls 或 mp4。", "format_invalid", "format")
        cat = service.catalog_for(device)
        category = service.check_category(cat, arg("category"))
    except DomainError as e:
        return _error(e)

    def build() -> tuple[bytes, str]:
        return m3u.playlist(in_category(cat, cat.courses, category), request_urls(), fmt), m3u.MIMETYPE

    return feedcache.serve("m3u", (fmt, category), build, device=device, version=cat.version, changed_at=cat.changed_at)


@bp.get("/api.php/provide/vod/", endpoint="maccms")
@bp.get("/api.php/provide/vod", endpoint="maccms")
def vod():
    from dangxiao.templating import site_zone
    from dangxiao.tv import catalog as service
    from dangxiao.tv import feedcache

    device = current_device()
    query = maccms.parse_query(request.args)
    cat = service.catalog_for(device)
    now = utcnow()
    # "updated in the last h hours" moves with the clock, not only with the catalogue version
    params = query.key() + ((int(now.timestamp()) // 600,) if query.hours else ())

    def build() -> tuple[bytes, str]:
        doc = maccms.document(cat.categories, cat.courses, query, request_urls(), zone=site_zone(), now=now)
        return maccms.body(doc), maccms.MIMETYPE

    return feedcache.serve("maccms", params, build, device=device, version=cat.version, changed_at=cat.changed_at)
