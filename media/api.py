"""JSON API for the admin pages: resumable uploads and live asset status.

Session login + the X-CSRFToken header, like every JSON API here. Errors are
{"error": {"code", "message"}}; upload errors also carry "offset", the byte the
server expects next (and the Upload-Offset header), so a client can always resume.
Each request is one unit of work: the services flush, the view commits once.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from dangxiao.access import role
from dangxiao.errors import DomainError
from dangxiao.templating import duration, human_size, localtime
from dangxiao.transactions import atomic
from media import grants, jobs, library, uploads
from media.models import AssetStatus, MediaAsset

api = Blueprint("media_api", __name__, url_prefix="/api/media")
# Session login + X-CSRFToken header.
ACCESS = {
    view: role("admin") for view in ("upload_create", "upload_status", "upload_chunk", "upload_abort", "asset_status")
}

NO_STORE = "no-store"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
SETTLED = {AssetStatus.ready, AssetStatus.failed, AssetStatus.cancelled}
UNFINISHED_LABEL = "上传未完成"


def actor() -> Any:
    return current_user._get_current_object()  # type: ignore[attr-defined]


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
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise DomainError(
            '请求内容必须是 JSON 对象，例如 {"filename": "第一课.mp4", "size": 1048576}。', "invalid_json"
        )
    with atomic():
        upload = uploads.create_upload(actor(), data.get("filename"), data.get("size"), data.get("title"))
    response = _upload_response(upload, 201)
    response.headers["Location"] = url_for("media_api.upload_status", upload_id=upload.id)
    return response


@api.get("/uploads/<int:upload_id>")
def upload_status(upload_id: int):
    """GET: JSON with the offset; HEAD: the same headers (Upload-Offset) without a body."""
    return _upload_response(uploads.get_upload(actor(), upload_id))


@api.route("/uploads/<int:upload_id>", methods=["PATCH", "PUT"])
def upload_chunk(upload_id: int):
    upload = uploads.get_upload(actor(), upload_id)
    if request.mimetype in FORM_TYPES:
        raise uploads.UploadError(
            "分片请以原始字节发送（Content-Type: application/octet-stream）。",
            "bad_content_type",
            offset=upload.received,
        )
    offset = uploads.parse_offset(request.headers.get("Upload-Offset"), upload)
    with atomic():
        result = uploads.write_chunk(actor(), upload, offset, request.stream, request.content_length)
    if result.incomplete:
        raise uploads.UploadError(
            "连接中断，分片没有传完整。请查询已接收的位置后继续上传。",
            "chunk_incomplete",
            offset=result.upload.received,
        )
    return _upload_response(result.upload, 200, result.imported)


@api.delete("/uploads/<int:upload_id>")
def upload_abort(upload_id: int):
    with atomic():
        uploads.abort(actor(), uploads.get_upload(actor(), upload_id))
    return jsonify(deleted=True)


def _picture(asset: MediaAsset) -> str:
    if asset.width and asset.height:
        return f"{asset.width}×{asset.height}"
    return "仅音频" if asset.has_video is False else "—"


def _upload_progress(asset: MediaAsset) -> dict[str, Any] | None:
    if asset.status != AssetStatus.uploading:
        return None
    upload = uploads.unfinished_upload(asset.id)
    if upload is None:
        return None
    state = uploads.progress_state(upload)
    last, expires = state.pop("last_chunk_at"), state.pop("expires_at")
    state.update(
        last_chunk_at=last.isoformat() if last else None,
        last_chunk_text=localtime(last),
        expires_at=expires.isoformat() if expires else None,
        expires_text=localtime(expires) if expires else None,
        received_text=human_size(state["received"]),
        size_text=human_size(state["size"]),
    )
    note = (
        f"已收到 {state['received_text']} / {state['size_text']}（{state['percent']}%），"
        f"最后收到数据：{state['last_chunk_text']}。"
    )
    if state["expired"]:
        note += "已过期（长时间没有继续上传），即将被自动清除，请重新上传。"
    elif state["stalled"]:
        note += "浏览器已停止上传：在“上传媒体”页面重新选择同一文件即可从断点继续"
        note += f"，否则将于 {state['expires_text']} 自动清除。" if expires else "。"
    state["note"] = note
    return state


def asset_state(asset: MediaAsset, subject: str) -> dict:
    """What the asset page shows and polls: status, failure reason, facts, the job's progress,
    and, once ready, the files' URLs granted to `subject` (a staff preview: grants.staff).

    `settled` means nothing will change by itself (ready, failed, cancelled, or an
    upload the browser abandoned past its expiry): the page stops polling.
    """
    progress = _upload_progress(asset)
    label, settled = asset.status.label, asset.status in SETTLED
    job = asset.job
    if asset.status == AssetStatus.ready and job is not None and job.status in jobs.ACTIVE:
        # Two-phase publish: playable already, the lower rungs are still being made.
        label, settled = f"{asset.status.label}（正在生成低清晰度版本）", False
    if asset.status == AssetStatus.uploading and (progress is None or progress["stalled"]):
        label = UNFINISHED_LABEL
        settled = progress is None or progress["expired"]
        if progress is None:
            progress = {
                "note": "找不到这次上传的记录（上传已中断），请删除此条目后重新上传。",
                "stalled": True,
                "expired": True,
                "percent": 0.0,
            }
    return {
        "id": asset.id,
        "title": asset.title,
        "status": asset.status.value,
        "status_label": label,
        "settled": settled,
        "failure_code": asset.failure_code,
        "failure_reason": asset.failure_reason,
        "retryable": library.retryable(asset),
        "duration": asset.duration,
        "duration_text": duration(asset.duration),
        "size": asset.size,
        "size_text": human_size(asset.size),
        "output_bytes": asset.output_bytes or 0,
        "output_size_text": human_size(asset.output_bytes) if asset.output_bytes else None,
        "width": asset.width,
        "height": asset.height,
        "picture_text": _picture(asset),
        "fast_path": asset.fast_path,
        "renditions": [
            {
                "name": r.get("name"),
                "label": library.rendition_label(r),
                "width": r.get("width") or None,
                "height": r.get("height") or None,
            }
            for r in asset.renditions or []
        ],
        "upload": progress,
        "job": jobs.job_state(asset.job),
        "urls": library.asset_urls(asset, subject),
    }


@api.get("/assets/<int:asset_id>")
def asset_status(asset_id: int):
    response = jsonify(asset_state(library.get_asset(asset_id), grants.staff(current_user.id)))
    response.headers["Cache-Control"] = NO_STORE
    return response
