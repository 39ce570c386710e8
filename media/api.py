"""JSON API for the admin pages: resumable uploads and live asset status.

Session login + the X-CSRFToken header, like every JSON API here. Errors are
{"error": {"code", "message"}}; upload errors also carry "offset", the byte the
server expects next (and the Upload-Offset header), so a client can always resume.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from dangxiao.access import role
from media import jobs, library, uploads
from media.models import MediaAsset

api = Blueprint("media_api", __name__, url_prefix="/api/media")
# Session login + X-CSRFToken header.
ACCESS = {view: role("admin") for view in (
    "upload_create", "upload_status", "upload_chunk", "upload_abort", "asset_status")}

NO_STORE = "no-store"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


@api.errorhandler(uploads.UploadError)
def upload_error(error: uploads.UploadError):
    body = {"code": error.code, "message": error.message}
    if error.offset is not None:
        body["offset"] = error.offset
    response = jsonify(error=body)
    response.status_code = error.status
    if error.offset is not None:
        response.headers["Upload-Offset"] = str(error.offset)
    response.headers["Cache-Control"] = NO_STORE
    return response


def _upload_response(upload, status: int = 200, imported: library.Imported | None = None):
    body = uploads.upload_state(upload)
    body["status_url"] = url_for("media_api.upload_status", upload_id=upload.id)
    if imported is not None:
        body["duplicate"] = imported.duplicate
        body["asset_id"] = imported.asset.id
    if upload.asset_id:
        body["asset_url"] = url_for("media_admin.asset_page", asset_id=upload.asset_id)
    response = jsonify(body)
    response.status_code = status
    response.headers["Upload-Offset"] = str(upload.received)
    response.headers["Upload-Length"] = str(upload.size)
    response.headers["Cache-Control"] = NO_STORE
    return response


@api.post("/uploads")
def upload_create():
    data = request.get_json(silent=True) or {}
    upload = uploads.create_upload(data.get("filename", ""), data.get("size"), data.get("title"),
                                   current_user.id)
    response = _upload_response(upload, 201)
    response.headers["Location"] = url_for("media_api.upload_status", upload_id=upload.id)
    return response


@api.get("/uploads/<int:upload_id>")
def upload_status(upload_id: int):
    """GET: JSON with the offset; HEAD: the same headers (Upload-Offset) without a body."""
    return _upload_response(uploads.get_upload(upload_id, current_user.id))


@api.route("/uploads/<int:upload_id>", methods=["PATCH", "PUT"])
def upload_chunk(upload_id: int):
    upload = uploads.get_upload(upload_id, current_user.id)
    if request.mimetype in FORM_TYPES:
        raise uploads.UploadError("分片请以原始字节发送（Content-Type: application/octet-stream）。",
                                  "bad_content_type", offset=upload.received)
    offset_header = request.headers.get("Upload-Offset", "")
    offset = int(offset_header) if offset_header.isdigit() else None
    result = uploads.write_chunk(upload, offset, request.stream, request.content_length)
    return _upload_response(result.upload, 200, result.imported)


@api.delete("/uploads/<int:upload_id>")
def upload_abort(upload_id: int):
    uploads.abort(uploads.get_upload(upload_id, current_user.id))
    return jsonify(deleted=True)


def asset_state(asset: MediaAsset) -> dict:
    """What the asset page polls: status, the Chinese failure reason, the job's progress."""
    return {
        "id": asset.id,
        "title": asset.title,
        "status": asset.status.value,
        "status_label": asset.status_label,
        "failure_reason": asset.failure_reason,
        "duration": asset.duration,
        "width": asset.width,
        "height": asset.height,
        "fast_path": asset.fast_path,
        "job": jobs.job_state(asset.job),
        "urls": library.asset_urls(asset),
    }


@api.get("/assets/<int:asset_id>")
def asset_status(asset_id: int):
    response = jsonify(asset_state(library.get_asset(asset_id)))
    response.headers["Cache-Control"] = NO_STORE
    return response
