"""Serve a ready asset's files: playlists, segments, the MP4 (with Range) and the poster.

URLs carry the output folder's version (`/media/12/v3f9c1a2b/720p/seg_00003.ts`), so a
file's bytes never change under its URL and segments can be cached for a year. Only
names under the asset's own output folder with a known extension are served; an
asset that is not ready is a 404. With MEDIA_X_ACCEL_PREFIX set, nginx sends the bytes.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, abort, current_app, send_file

from dangxiao.access import PUBLIC
from dangxiao.extensions import db
from media import storage
from media.models import MediaAsset

bp = Blueprint("media_files", __name__)
# Public for now; lessons and set-top boxes will hand out signed grants that this only verifies.
ACCESS = {"file": PUBLIC}

MIME_TYPES = {
    "m3u8": "application/vnd.apple.mpegurl",
    "ts": "video/mp2t",
    "mp4": "video/mp4",
    "m4a": "audio/mp4",
    "jpg": "image/jpeg",
}
PLAYLIST_CACHE = "public, max-age=60"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"


@bp.get("/media/<int:asset_id>/<version>/<path:name>")
def file(asset_id: int, version: str, name: str):
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None or not asset.is_ready or asset.version != version or not asset.output_dir:
        abort(404)
    path = storage.served_file(asset.output_dir, name)
    if path is None:
        abort(404)
    extension = name.rsplit(".", 1)[-1]
    mimetype = MIME_TYPES[extension]
    prefix = current_app.config.get("MEDIA_X_ACCEL_PREFIX")
    if prefix:
        response = current_app.response_class(b"", mimetype=mimetype)
        response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(f"{asset.output_dir}/{name}")
    else:
        response = send_file(path, mimetype=mimetype, conditional=True, etag=True)
    response.headers["Cache-Control"] = PLAYLIST_CACHE if extension == "m3u8" else IMMUTABLE_CACHE
    return response
