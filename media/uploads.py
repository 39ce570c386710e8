"""Resumable chunked uploads, streamed to disk.

The client creates an upload (name, declared size), then sends chunks, each with the
offset it believes comes next. Bytes [0, received) are on disk and fsynced before
`received` moves, so after a dropped connection the client asks for the offset and
goes on from there. A chunk at the wrong offset or past the declared size is refused
before anything is written. The last chunk hashes the file and queues the transcode.

Services take the acting user and flush; the caller commits (``transactions.atomic``).
A chunk keeps its lock on the part file until that commit is over, so a second
request for the same upload never reads an offset that is about to move.

Unfinished uploads expire MEDIA_UPLOAD_EXPIRY_HOURS after their last chunk: the
worker's reaper (and ``flask media expire-uploads``) removes them, their bytes and
their quota reservation.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import ClientDisconnected

from dangxiao import policy, transactions
from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.queries import MAX_ID
from dangxiao.templating import human_size
from media import library, storage
from media.models import AssetStatus, MediaAsset, Upload
from media.policy import MANAGE, UPLOAD_WRITE

log = logging.getLogger(__name__)

BLOCK = 256 * 1024
#: An upload without a chunk for this long is shown as 上传未完成 (the browser went away).
STALLED_AFTER = 60
#: Upload-Offset: ASCII digits only ("²" passes str.isdigit() but not int()), no sign, no spaces.
_OFFSET = re.compile(r"[0-9]{1,16}")
_LOCKS = "media.upload_locks"

GONE = "上传任务不存在、已过期或已被删除，请重新选择文件上传。"


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


def expiry_hours() -> float:
    """MEDIA_UPLOAD_EXPIRY_HOURS; 0 (or unset) keeps unfinished uploads forever."""
    return float(current_app.config.get("MEDIA_UPLOAD_EXPIRY_HOURS") or 0)


def accepted_extensions() -> list[str]:
    return sorted(storage.VIDEO_EXTENSIONS | storage.AUDIO_EXTENSIONS)


# --- creating -------------------------------------------------------------------------------


def _filename(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DomainError("请提供文件名（filename，字符串）。", "invalid_filename", "filename")
    return storage.clean_filename(value)


def _size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DomainError("请提供文件大小（size，字节数，非负整数）。", "invalid_size", "size")
    if value > library.MAX_BYTES:
        raise DomainError("文件大小不合理（超过 8 PB），请检查后重试。", "invalid_size", "size")
    return value


def _title(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise DomainError("标题（title）必须是文字。", "invalid_title", "title")
    return value


def create_upload(actor: Any, filename: object, size: object, title: object = None) -> Upload:
    """Reserve the space (quota) and an empty file; the asset shows as "uploading" meanwhile.

    Everything that can be refused is refused here, before the first byte is sent:
    odd input, a file that is not video or audio, a file over the size limit or the quota.
    """
    policy.require(actor, MANAGE)
    filename = _filename(filename)
    size = _size(size)
    title = _title(title)
    if size == 0:
        raise DomainError("文件是空的（0 字节），请选择有内容的视频或音频文件。", "empty_file", "size")
    if not storage.is_media_filename(filename):
        raise DomainError(
            f"不支持上传“{filename}”：只能上传视频（如 MP4、MOV、MKV、FLV）或音频（如 MP3、M4A、WAV）文件。",
            "unsupported_type",
            "filename",
        )
    library.check_file_size(size)
    storage.ensure_dirs()
    owner_id = getattr(actor, "id", None)
    asset = MediaAsset(
        title=library.clean_title(title, filename),
        original_filename=filename,
        size=size,
        status=AssetStatus.uploading,
        created_by_id=owner_id,
    )
    library.reserve(asset)
    upload = Upload(
        filename=filename, title=asset.title, size=size, received=0, owner_id=owner_id, asset_id=asset.id, temp_path=""
    )
    db.session.add(upload)
    db.session.flush()
    upload.temp_path = storage.upload_path(upload.id)
    with storage.absolute(upload.temp_path).open("wb") as fh:  # replaces a rolled-back leftover
        os.fsync(fh.fileno())
    db.session.flush()
    return upload


def get_upload(actor: Any, upload_id: int) -> Upload:
    """The caller's own upload (another admin's half-finished upload is not theirs to write)."""
    upload = db.session.get(Upload, upload_id) if 0 < upload_id <= MAX_ID else None
    if upload is None or not policy.can(actor, UPLOAD_WRITE, upload):
        raise NotFound(GONE, "upload_not_found")
    return upload


# --- writing --------------------------------------------------------------------------------


def parse_offset(value: str | None, upload: Upload) -> int:
    """The Upload-Offset header as a byte position; refused (with where to resume) otherwise."""
    if value is None or value == "":
        raise UploadError("缺少有效的 Upload-Offset 请求头。", "offset_required", offset=upload.received)
    if not _OFFSET.fullmatch(value) or int(value) > library.MAX_BYTES:
        raise UploadError(
            "Upload-Offset 请求头必须是不带符号的十进制整数（已收到的字节数）。",
            "invalid_offset",
            offset=upload.received,
        )
    return int(value)


@dataclass
class ChunkResult:
    upload: Upload
    imported: library.Imported | None = None
    #: The connection dropped mid-chunk: what arrived is kept (commit it), then tell the client.
    incomplete: bool = False


def write_chunk(actor: Any, upload: Upload, offset: int | None, stream: IO[bytes], length: int | None) -> ChunkResult:
    """Append one chunk at exactly `offset`; completes the upload when the last byte arrives."""
    policy.require(actor, UPLOAD_WRITE, upload)
    if upload.complete:
        raise UploadComplete("该文件已经上传完成。", offset=upload.received)
    if offset is None or offset < 0:
        raise UploadError("缺少有效的 Upload-Offset 请求头。", "offset_required", offset=upload.received)
    if length is None:
        raise UploadError("缺少 Content-Length 请求头。", "length_required", offset=upload.received)
    if length > chunk_limit():
        raise ChunkTooLarge(f"单个分片不能超过 {human_size(chunk_limit())}。", offset=upload.received)
    fh = _lock_part(upload, "r+b")
    if fh is None:
        raise NotFound("上传的临时文件已丢失（可能已过期被清除），请重新上传。", "upload_lost")
    _reload(upload)  # under the lock: the offset another request may have moved
    if upload.complete:
        raise UploadComplete("该文件已经上传完成。", offset=upload.received)
    if offset != upload.received:
        raise OffsetMismatch(
            f"分片位置不对：服务器已收到 {upload.received} 字节，请从这里继续上传。", offset=upload.received
        )
    if offset + length > upload.size:
        raise ChunkTooLarge(
            f"分片超出了声明的文件大小（{upload.size} 字节）。", "beyond_declared_size", offset=upload.received
        )
    written, disconnected = _copy_into(fh, offset, stream, length)  # fsynced before the offset moves
    received = offset + written
    # Hash a finished file before this transaction writes: SQLite's single write lock must
    # not be held while gigabytes are read.
    sha256 = storage.sha256_file(Path(fh.name)) if received == upload.size else None
    upload.received = received
    upload.updated_at = utcnow()
    try:
        db.session.flush()
    except StaleDataError:  # expired or deleted while the bytes were arriving
        raise NotFound(GONE, "upload_not_found") from None
    imported = complete(upload, sha256) if sha256 is not None else None
    return ChunkResult(upload, imported, incomplete=disconnected or written < length)


def _reload(upload: Upload) -> None:
    try:
        db.session.refresh(upload)
    except InvalidRequestError:  # the row is gone
        raise NotFound(GONE, "upload_not_found") from None


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


def _lock_part(upload: Upload, mode: str) -> IO[bytes] | None:
    """Lock the part file for this transaction (None when it is gone); busy → 409 with the offset.

    The lock is held until the transaction ends, so a second request for the same upload
    never reads an offset that is about to move, and never writes bytes a commit will disown.
    """
    try:
        fh = storage.absolute(upload.temp_path).open(mode)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise UploadBusy("该文件正在另一个请求中上传，请稍后查询进度。", offset=upload.received) from None
    db.session().info.setdefault(_LOCKS, []).append(fh)
    return fh


@event.listens_for(Session, "after_transaction_end")
def _release_upload_locks(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed, rolled back or closed
        for fh in session.info.pop(_LOCKS, ()):
            fh.close()


def complete(upload: Upload, sha256: str | None = None) -> library.Imported:
    """Hand the finished file (hashed here unless `sha256` is given) to the library.

    Content already in the library is not kept twice: the upload points at that asset.
    """
    path = storage.absolute(upload.temp_path)
    sha256 = sha256 or storage.sha256_file(path)
    asset = db.session.get(MediaAsset, upload.asset_id)
    if asset is None:
        raise NotFound("该媒体已被删除。")
    result = library.publish_source(asset, path, sha256, link=True)
    if result.duplicate:
        # Same content already in the library: drop this placeholder and point the upload at it.
        upload.asset_id = result.asset.id
        db.session.flush()
        library.remove_asset(asset)
    upload.completed_at = utcnow()
    db.session.flush()
    transactions.after_commit(partial(storage.remove_file, upload.temp_path))
    return result


# --- giving up ------------------------------------------------------------------------------


def abort(actor: Any, upload: Upload) -> None:
    """Give up an unfinished upload: its reserved space and bytes are released."""
    policy.require(actor, UPLOAD_WRITE, upload)
    _lock_part(upload, "rb")  # not while a chunk is being written
    _reload(upload)
    if upload.complete:
        raise UploadComplete("该文件已经上传完成，请在媒体库中删除。", offset=upload.received)
    _discard(upload)


def _discard(upload: Upload) -> None:
    asset = db.session.get(MediaAsset, upload.asset_id) if upload.asset_id else None
    if asset is not None:
        library.remove_asset(asset)  # the upload row goes with it (ON DELETE CASCADE)
        db.session.expunge(upload)
        return
    temp_path = upload.temp_path
    db.session.delete(upload)
    db.session.flush()
    transactions.after_commit(partial(storage.remove_file, temp_path))


@dataclass
class ExpiryReport:
    removed: list[int] = field(default_factory=list)  # upload ids
    freed_bytes: int = 0  # reserved (declared) bytes given back to the quota
    orphans: int = 0  # part files without an unfinished upload row


def expire_uploads(actor: Any, now: datetime | None = None) -> ExpiryReport:
    """Remove unfinished uploads whose last chunk is older than MEDIA_UPLOAD_EXPIRY_HOURS."""
    policy.require(actor, MANAGE)
    report = ExpiryReport()
    hours = expiry_hours()
    if hours <= 0:
        return report
    cutoff = (now or utcnow()) - timedelta(hours=hours)
    stale = db.session.scalars(
        select(Upload).where(Upload.completed_at.is_(None), Upload.updated_at < cutoff).order_by(Upload.id)
    ).all()
    for upload in stale:
        try:
            _lock_part(upload, "rb")
        except UploadBusy:
            continue  # a chunk is arriving right now: not abandoned after all
        report.removed.append(upload.id)
        report.freed_bytes += upload.size
        _discard(upload)
    report.orphans = _sweep_orphan_parts(cutoff, set(report.removed))
    return report


def _sweep_orphan_parts(cutoff: datetime, removed: set[int]) -> int:
    """Part files no unfinished upload owns (a rolled-back create or import, a failed removal), once old."""
    folder = storage.media_root() / "uploads"
    if not folder.is_dir():
        return 0
    candidates: dict[int | None, list[str]] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".part") or not entry.is_file():
            continue
        try:
            modified = datetime.fromtimestamp(entry.stat().st_mtime, cutoff.tzinfo)
        except OSError:
            continue
        if modified < cutoff:
            stem = entry.name[: -len(".part")]
            upload_id = int(stem) if stem.isascii() and stem.isdigit() and len(stem) < 20 else None
            if upload_id is not None and upload_id > MAX_ID:
                upload_id = None  # no row can have that id
            candidates.setdefault(upload_id, []).append(f"uploads/{entry.name}")
    if not candidates:
        return 0
    ids = [upload_id for upload_id in candidates if upload_id is not None]
    live = (
        set(db.session.scalars(select(Upload.id).where(Upload.id.in_(ids), Upload.completed_at.is_(None))))
        if ids
        else set()
    )
    orphans = [rel for upload_id, rels in candidates.items() if upload_id not in live | removed for rel in rels]
    for rel in orphans:
        transactions.after_commit(partial(storage.remove_file, rel))
    return len(orphans)


def sweep_expired_uploads() -> ExpiryReport | None:
    """The worker's periodic call: one transaction as the operator; failures are logged, not raised."""
    try:
        with transactions.atomic():
            report = expire_uploads(policy.SYSTEM)
    except Exception:  # noqa: BLE001 — a database hiccup must not stop the reaper
        log.exception("expiring unfinished media uploads failed; trying again next round")
        return None
    if report.removed or report.orphans:
        log.warning(
            "media uploads expired: %s (%s freed), %d orphan part file(s) removed",
            report.removed,
            human_size(report.freed_bytes),
            report.orphans,
        )
    return report


# --- reading --------------------------------------------------------------------------------


def unfinished_upload(asset_id: int) -> Upload | None:
    return db.session.scalar(
        select(Upload)
        .where(Upload.asset_id == asset_id, Upload.completed_at.is_(None))
        .order_by(Upload.id.desc())
        .limit(1)
    )


def expires_at(upload: Upload) -> datetime | None:
    hours = expiry_hours()
    last = aware(upload.updated_at)
    return last + timedelta(hours=hours) if hours > 0 and last is not None else None


def progress_state(upload: Upload, now: datetime | None = None) -> dict[str, Any]:
    """An unfinished upload as the asset page shows it: how far, since when, until when."""
    now = now or utcnow()
    last = aware(upload.updated_at)
    expires = expires_at(upload)
    return {
        "id": upload.id,
        "received": upload.received,
        "size": upload.size,
        "percent": round(upload.received * 100 / upload.size, 1) if upload.size else 0.0,
        "last_chunk_at": last,
        "expires_at": expires,
        "stalled": last is None or (now - last).total_seconds() > STALLED_AFTER,
        "expired": expires is not None and now >= expires,
    }


def upload_state(upload: Upload) -> dict:
    expires = expires_at(upload) if not upload.complete else None
    return {
        "id": upload.id,
        "asset_id": upload.asset_id,
        "filename": upload.filename,
        "size": upload.size,
        "offset": upload.received,
        "complete": upload.complete,
        "chunk_size": chunk_limit(),
        "expires_at": expires.isoformat() if expires else None,
    }
