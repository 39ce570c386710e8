"""Static files (ours and the npm ones) sent gzip-compressed to browsers that accept it.

Members on rural lines pay for every byte: the socket.io client, hls.js and our scripts and
styles are text that gzip shrinks to a third or less. ``make run`` has no nginx in front, so
the app compresses them itself; behind nginx it does no harm (nginx passes an encoded body
through). Each file is compressed once per (path, mtime, size) and kept in a small LRU.

Only static assets are compressed here, never pages: an HTML page carries the CSRF token next
to text a visitor can make the page reflect, and compressing both (BREACH) would let an
attacker who watches response sizes guess the token. Whether to gzip pages behind TLS is the
operator's choice in nginx (README: Scaling out).

Each encoding has its own strong ETag (``"<mtime>-<size>"`` and ``"<mtime>-<size>-gz"``) and every
answer says ``Vary: Accept-Encoding``, so a cache never hands one encoding to a client that asked
for the other; conditional requests get 304s for both. Range requests get the file as it is.
"""

from __future__ import annotations

import gzip
import mimetypes
import os
import threading
from collections import OrderedDict

from flask import Flask, Response, current_app, request, send_file
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

#: Worth compressing: below this gzip saves little; above, the file is not kept in memory.
MIN_SIZE, MAX_SIZE = 1024, 2 * 1024 * 1024
CACHE_FILES = 64
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")

_cache: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
_lock = threading.Lock()


def accepts_gzip(header: str) -> bool:
    """Does Accept-Encoding allow gzip (listed or ``*``, with q above 0)?"""
    allowed = None
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        coding = coding.strip()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding == "*":
            allowed = quality > 0 if allowed is None else allowed
        else:
            allowed = quality > 0
    return bool(allowed)


def _compressed(path: str, stat: os.stat_result) -> bytes:
    key = (path, stat.st_mtime_ns, stat.st_size)
    with _lock:
        body = _cache.get(key)
        if body is not None:
            _cache.move_to_end(key)
            return body
    with open(path, "rb") as handle:
        body = gzip.compress(handle.read(), compresslevel=9, mtime=0)
    with _lock:
        _cache[key] = body
        while len(_cache) > CACHE_FILES:
            _cache.popitem(last=False)
    return body


def send_asset(path: str, *, mimetype: str | None = None, max_age: int | None = None) -> Response:
    """`path` as a static asset: gzip-compressed when the client accepts it and it pays off."""
    try:
        stat = os.stat(path)
    except OSError:
        raise NotFound() from None
    tag = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
    kind = mimetype or mimetypes.guess_type(path)[0] or ""
    compress = (
        MIN_SIZE <= stat.st_size <= MAX_SIZE
        and kind.startswith(COMPRESSIBLE)
        and "Range" not in request.headers
        and accepts_gzip(request.headers.get("Accept-Encoding", ""))
    )
    if not compress:
        response = send_file(path, mimetype=mimetype, conditional=True, max_age=max_age, etag=tag)
        response.vary.add("Accept-Encoding")
        return response
    # send_file only for its headers (type, Last-Modified, caching): the compressed copy is the body.
    plain = send_file(path, mimetype=mimetype, conditional=False, max_age=max_age, etag=tag + "-gz")
    plain.close()
    response = Response(_compressed(path, stat))
    for name in ("Content-Type", "Cache-Control", "Expires", "Last-Modified", "ETag"):
        if name in plain.headers:
            response.headers[name] = plain.headers[name]
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    """Serve ``/static/…`` through :func:`send_asset` instead of Flask's plain static view."""

    def static(filename: str) -> Response:
        path = safe_join(app.static_folder, filename) if app.static_folder else None
        if path is None or not os.path.isfile(path):
            raise NotFound()
        return send_asset(path, max_age=current_app.get_send_file_max_age(filename))

    app.view_functions["static"] = static
