"""Serve a ready asset's files to the holder of a grant: playlists, segments, the MP4 (with
Range) and the poster.

URLs carry a grant (media/grants.py) and then the output folder's version
(`/media/u7.t3k9q0.<sig>/12/v3f9c1a2b/720p/seg_00003.ts`). The grant comes first so the
relative segment URLs inside HLS playlists inherit it; the access table checks it (rule
``grant``, verifier registered in media.views) before this view runs — a missing, forged,
tampered, expired or other asset's grant is a 403 and no file is looked at; so is the
pre-grant shape ``/media/<asset_id>/<version>/<name>``, which carries none.

A file's bytes never change under its URL, but a granted URL belongs to one subject and
expires, so responses are ``private`` (no shared cache keeps them) and may be kept at most
until the grant expires: ``max-age`` is the smaller of the grant's remaining seconds and 60
(playlists) or a year (segments, MP4, poster). Only names under the asset's own output
folder with a known extension are served; an asset that is not ready is a 404. With
MEDIA_X_ACCEL_PREFIX set, the app verifies and nginx sends the bytes (and does Range).

The version before the current one (e.g. the stream-copied first phase of a fast-path
transcode, replaced when the lower rungs are ready) is still served until its grace period
ends, so a player that started on it is not cut off; new requests for the asset get the
current version's URLs.

Range (RFC 9110 §14.2): one satisfiable byte range gives 206; a header that does not parse,
uses another unit or asks for several ranges is ignored and the whole file is sent (200);
one range that starts beyond the end gives 416 in the site's error shape (JSON or a Chinese
page) with ``Content-Range: bytes */<length>``. Behind nginx (X-Accel) nginx does all of this.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from dangxiao.access import GRANT, GRANT_REFUSALS
from dangxiao.errors import error_response, wants_json
from dangxiao.extensions import db
from media import grants, storage
from media.models import MediaAsset

bp = Blueprint("media_files", __name__)
# The grant in the URL is the gate; who gets one is decided by whoever issues it.
ACCESS = {"file": GRANT}

MIME_TYPES = {
    "m3u8": "application/vnd.apple.mpegurl",
    "ts": "video/mp2t",
    "mp4": "video/mp4",
    "m4a": "audio/mp4",
    "jpg": "image/jpeg",
}
PLAYLIST_MAX_AGE = 60
IMMUTABLE_MAX_AGE = 31536000
#: One byte range, as RFC 9110 writes it: "bytes=0-499", "bytes=500-", "bytes=-500".
SINGLE_RANGE = re.compile(r"bytes=[ \t]*(\d*)-(\d*)[ \t]*", re.IGNORECASE)
RANGE_NOT_SATISFIABLE = "请求的字节范围超出了文件大小，无法返回。"


@bp.get("/media/<grant>/<int:asset_id>/<version>/<path:name>")
# The pre-grant shape has no grant: the same endpoint, so the access table refuses it (403
# grant_invalid) and an old link or player is told why instead of getting a bare 404.
@bp.get("/media/<int:asset_id>/<version>/<path:name>", defaults={"grant": ""})
def file(grant: str, asset_id: int, version: str, name: str):
    granted = grants.check(grant, asset_id)  # the access table checked it; the expiry sets max-age
    if not isinstance(granted, grants.Grant):
        return error_response(403, granted, GRANT_REFUSALS[granted])
    asset = db.session.get(MediaAsset, asset_id)
    output = asset.output_for(version) if asset is not None else None
    if output is None:
        abort(404)
    path = storage.served_file(output, name)
    if path is None:
        abort(404)
    extension = name.rsplit(".", 1)[-1]
    mimetype = MIME_TYPES[extension]
    prefix = current_app.config.get("MEDIA_X_ACCEL_PREFIX")
    if prefix:
        response = current_app.response_class(b"", mimetype=mimetype)
        response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(f"{output}/{name}")
    else:
        if not usable_range(request.headers.get("Range")):
            request.environ.pop("HTTP_RANGE", None)  # ignored, as RFC 9110 allows: the whole file
        try:
            response = send_file(path, mimetype=mimetype, conditional=True, etag=True)
        except RequestedRangeNotSatisfiable:
            return range_not_satisfiable(path.stat().st_size)
    response.headers["Cache-Control"] = cache_control(extension, granted.remaining())
    return response


def cache_control(extension: str, remaining: int) -> str:
    """Private (per subject) and never kept beyond the grant; playlists stay short."""
    if extension == "m3u8":
        return f"private, max-age={min(remaining, PLAYLIST_MAX_AGE)}"
    return f"private, max-age={min(remaining, IMMUTABLE_MAX_AGE)}, immutable"


def usable_range(header: str | None) -> bool:
    """True for one well-formed byte range (satisfiable or not); False for none, a header that
    does not parse, another unit, several ranges, or last < first — those are ignored."""
    if not header:
        return False
    match = SINGLE_RANGE.fullmatch(header.strip())
    if match is None:
        return False
    first, last = match.groups()
    if not first and not last:
        return False
    return not (first and last and int(last) < int(first))


def range_not_satisfiable(length: int):
    """416 in the site's shape (JSON for API clients, the Chinese error page otherwise)."""
    if wants_json():
        response = jsonify(error={"code": "range_not_satisfiable", "message": RANGE_NOT_SATISFIABLE})
    else:
        response = current_app.response_class(
            render_template("errors/error.html", status=416, title="请求范围无效", message=RANGE_NOT_SATISFIABLE),
            mimetype="text/html",
        )
    response.status_code = 416
    response.headers["Content-Range"] = f"bytes */{length}"
    response.headers["Cache-Control"] = "no-store"
    return response
