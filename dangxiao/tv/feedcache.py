"""Formatted feed bodies, built once per catalogue change and answered from memory.

Guarantees of :func:`serve`:

- A body is built at most once per (format, device, how the key came in, parameters,
  catalogue version) while it stays in the per-process LRU (TV_FEED_CACHE_ENTRIES). The key
  includes the device and its key as it came (prefix / header / query, and the host), because
  the media URLs in a body carry that key; two stations never share a body.
- The version is the caller's ``changes.current_version()``; a new version is a new key, so a
  change to the catalogue invalidates every feed with no other bookkeeping, and old entries
  simply age out of the LRU.
- Every answer carries a strong ETag (BLAKE2b-128 of the uncompressed body; the same for the
  gzip coding, as the bytes decoded are the same), ``Last-Modified`` (the version's
  ``changed_at``), ``Vary: Accept-Encoding`` and ``Cache-Control: private, no-cache`` (a box
  or proxy may keep it but must revalidate: one cheap conditional request per poll).
- ``If-None-Match`` (``*``, lists, ``W/`` tags compared weakly as RFC 9110 says for GET) wins
  over ``If-Modified-Since``; a matching one is a 304 with no body; garbage never matches.
- gzip (compressed once, at build time) when ``Accept-Encoding`` allows it (q=0 refuses).
- HEAD gets the headers of the GET without a body.

The hot path for an unchanged feed is the device lookup, the version read, one dict lookup
and a header compare: no query of the catalogue, no formatting, no compression.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from flask import Response, current_app, request
from werkzeug.http import http_date

from dangxiao.assets import accepts_gzip
from dangxiao.tv import prefix

_CACHE_KEY = "tv.feedcache"
_http_date = lru_cache(maxsize=256)(http_date)  # one catalogue version, one date: format it once
MIN_GZIP = 200  # smaller bodies are not worth the header


@dataclass(frozen=True)
class Entry:
    body: bytes
    gzipped: bytes | None
    mimetype: str
    etag: str  # with its quotes


class FeedCache:
    """A small thread-safe LRU of built feeds."""

    def __init__(self, size: int):
        self.size = max(1, size)
        self.entries: OrderedDict[tuple, Entry] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> Entry | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: Entry) -> None:
        with self.lock:
            self.entries[key] = entry
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


def cache() -> FeedCache:
    found = current_app.extensions.get(_CACHE_KEY)
    if found is None:
        found = current_app.extensions.setdefault(
            _CACHE_KEY, FeedCache(int(current_app.config["TV_FEED_CACHE_ENTRIES"]))
        )
    return found


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def make_entry(body: bytes, mimetype: str) -> Entry:
    gzipped = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= MIN_GZIP else None
    return Entry(body=body, gzipped=gzipped, mimetype=mimetype, etag=etag_of(body))


def _key_base() -> tuple:
    """How this request carried its key (the URLs inside a body carry it the same way)."""
    if prefix.prefixed_key() is not None:
        return ("prefix", request.scheme, request.host, request.root_path)
    key = request.headers.get("X-Device-Key") or request.args.get("key") or ""
    return ("plain", request.scheme, request.host, request.root_path, key)


def serve(
    kind: str,
    params: tuple,
    build: Callable[[], tuple[bytes, str]],
    *,
    device: Any,
    version: int,
    changed_at: datetime,
) -> Response:
    """The feed `kind` with `params` for `device` at `version`: from the cache, or `build()` once."""
    store = cache()
    key = (kind, device.id, _key_base(), params, version)
    entry = store.get(key)
    if entry is None:
        body, mimetype = build()
        entry = make_entry(body, mimetype)
        store.put(key, entry)
    return respond(entry, changed_at)


def respond(entry: Entry, changed_at: datetime) -> Response:
    """The 200 or 304 for `entry` under this request's conditional and encoding headers."""
    headers = {
        "ETag": entry.etag,
        "Last-Modified": _http_date(changed_at),
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding",
    }
    if not_modified(entry.etag, changed_at):
        return Response(status=304, headers=headers)
    body = entry.body
    if entry.gzipped is not None and accepts_gzip(request.headers.get("Accept-Encoding", "")):
        body = entry.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, status=200, headers=headers, mimetype=entry.mimetype)


def not_modified(etag: str, changed_at: datetime) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    match = request.headers.get("If-None-Match")
    if match is not None:
        return etag_matches(match, etag)
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        if when is None or when.tzinfo is None:
            return False
        return changed_at.replace(microsecond=0) <= when
    return False


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison of `etag` with an If-None-Match value (``*`` or a list of tags)."""
    header = header.strip()
    if header == "*":
        return True
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False
