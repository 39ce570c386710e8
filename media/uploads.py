"""Resumable chunked uploads, streamed to disk.

The client creates an upload (name, declared size), then sends chunks, each with the
offset it believes comes next. Bytes [0, received) are on disk and fsynced before
`received` moves, so after a dropped connection the client asks for the offset and
goes on from there. A chunk at the wrong offset or past the declared size is refused
before anything is written. The last chunk hashes the file and queues the transcode.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from typing import IO

from flask import current_app
from werkzeug.exceptions import ClientDisconnected

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from media import library, storage
from media.models import AssetStatus, MediaAsset, Upload

BLOCK = 256 * 1024


class UploadError(DomainError):
    """A refused upload request; `offset` (when set) tells the client where to continue."""

    offset: int | None = None

    def __init__(self, message: str, code: str | None = None, offset: int | None = None):
        super().__init__(message, code)
        self.offset = offset


class OffsetMismatch(UploadError):
    code = "offset_mismatch"
    status = 409


class UploadBusy(UploadError):
    code = "upload_busy"
    status = 409


class ChunkTooLarge(UploadError):
    code = "chunk_too_large"
    status = 413


class UploadComplete(UploadError):
    code = "upload_complete"
    status = 409


def chunk_limit() -> int:
    """Bytes per chunk request; never above MAX_CONTENT_LENGTH, which Flask enforces first."""
    limit = int(current_app.config["MEDIA_CHUNK_MAX_BYTES"])
    request_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return min(limit, int(request_limit)) if request_limit else limit


def create_upload(filename: str, size: object, title: str | None, user_id: int | None) -> Upload:
    """Reserve the space (quota) and an empty file; the asset shows as "uploading" meanwhile."""
    filename = storage.clean_filename(str(filename or ""))
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise DomainError("请提供文件大小（字节数，非负整数）。", "invalid_size", "size")
    if size == 0:
        raise DomainError("文件是空的（0 字节），请选择有内容的视频或音频文件。", "empty_file", "size")
    library.check_size(size)
    storage.ensure_dirs()
    asset = MediaAsset(title=library.clean_title(title, filename), original_filename=filename, size=size,
                       status=AssetStatus.uploading, created_by_id=user_id)
    upload = Upload(filename=filename, title=asset.title, size=size, received=0, owner_id=user_id,
                    temp_path="")
    db.session.add(asset)
    db.session.flush()
    upload.asset_id = asset.id
    db.session.add(upload)
    db.session.flush()
    upload.temp_path = storage.upload_path(upload.id)
    path = storage.absolute(upload.temp_path)
    with path.open("wb") as fh:
        os.fsync(fh.fileno())
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return upload


def get_upload(upload_id: int, user_id: int | None) -> Upload:
    """The caller's own upload (another admin's half-finished upload is not theirs to write)."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.owner_id != user_id:
        raise NotFound("上传任务不存在或已被删除，请重新选择文件上传。", "upload_not_found")
    return upload


@dataclass
class ChunkResult:
    upload: Upload
    imported: library.Imported | None = None


def write_chunk(upload: Upload, offset: int | None, stream: IO[bytes], length: int | None) -> ChunkResult:
    """Append one chunk at exactly `offset`; completes the upload when the last byte arrives."""
    if upload.complete:
        raise UploadComplete("该文件已经上传完成。", offset=upload.received)
    if offset is None or offset < 0:
        raise UploadError("缺少有效的 Upload-Offset 请求头。", "offset_required", offset=upload.received)
    if length is None:
        raise UploadError("缺少 Content-Length 请求头。", "length_required", offset=upload.received)
    if length > chunk_limit():
        raise ChunkTooLarge(f"单个分片不能超过 {library.human_size(chunk_limit())}。", offset=upload.received)
    path = storage.absolute(upload.temp_path)
    try:
        fh = path.open("r+b")
    except FileNotFoundError:
        raise NotFound("上传的临时文件已丢失，请重新上传。", "upload_lost") from None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadBusy("该文件正在另一个请求中上传，请稍后查询进度。", offset=upload.received) from None
        db.session.refresh(upload)  # under the lock: the offset another request may have moved
        if offset != upload.received:
            raise OffsetMismatch(
                f"分片位置不对：服务器已收到 {upload.received} 字节，请从这里继续上传。", offset=upload.received
            )
        if offset + length > upload.size:
            raise ChunkTooLarge(
                f"分片超出了声明的文件大小（{upload.size} 字节）。", "beyond_declared_size", offset=upload.received
            )
        written, disconnected = _copy_into(fh, offset, stream, length)
        upload.received = offset + written
        upload.updated_at = utcnow()
        db.session.commit()
    if disconnected or written < length:
        raise UploadError("连接中断，分片没有传完整。请查询已接收的位置后继续上传。", "chunk_incomplete",
                          offset=upload.received)
    if upload.received == upload.size:
        return ChunkResult(upload, complete(upload))
    return ChunkResult(upload)


def _copy_into(fh: IO[bytes], offset: int, stream: IO[bytes], length: int) -> tuple[int, bool]:
    """Stream `length` bytes to the file at `offset` in blocks; fsync what arrived."""
    fh.seek(offset)
    fh.truncate(offset)  # drop bytes a crashed earlier request wrote but never acknowledged
    written, disconnected = 0, False
    try:
        while written < length:
            block = stream.read(min(BLOCK, length - written))
            if not block:
                break
            fh.write(block)
            written += len(block)
    except ClientDisconnected:
        disconnected = True
    fh.flush()
    os.fsync(fh.fileno())
    return written, disconnected


def complete(upload: Upload) -> library.Imported:
    """Hash the finished file and hand it to the library (or point at the identical asset)."""
    path = storage.absolute(upload.temp_path)
    sha256 = storage.sha256_file(path)
    asset = db.session.get(MediaAsset, upload.asset_id)
    if asset is None:
        raise NotFound("该媒体已被删除。")
    upload.completed_at = utcnow()  # committed together with the asset's queued job
    result = library.publish_source(asset, path, sha256, move=True)
    if result.duplicate:
        # Same content already in the library: drop this copy and point the upload at it.
        upload.asset_id = result.asset.id
        db.session.flush()
        db.session.delete(asset)
        storage.remove_file(upload.temp_path)
    upload.completed_at = utcnow()
    db.session.commit()
    return result


def abort(upload: Upload) -> None:
    """Give up an unfinished upload: its reserved space and bytes are released."""
    if upload.complete:
        raise UploadComplete("该文件已经上传完成，请在媒体库中删除。", offset=upload.received)
    asset = db.session.get(MediaAsset, upload.asset_id) if upload.asset_id else None
    if asset is not None:
        library.delete_asset(asset)
    else:
        storage.remove_file(upload.temp_path)
        db.session.delete(upload)
        db.session.commit()


def upload_state(upload: Upload) -> dict:
    return {
        "id": upload.id,
        "asset_id": upload.asset_id,
        "filename": upload.filename,
        "size": upload.size,
        "offset": upload.received,
        "complete": upload.complete,
        "chunk_size": chunk_limit(),
    }
