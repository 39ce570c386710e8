"""Assets: creating them from a finished file, the disk quota, listing and deleting.

Views, the upload API and the CLI all come through here, so an import from a folder
and an upload from the browser make exactly the same rows and files. The services
take the acting user, ask ``media.policy`` and flush; the caller commits once
(``dangxiao.transactions.atomic``). Files are created before the commit (an orphan
from a rolled-back request is harmless and swept later) and removed only after it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from flask import current_app, url_for
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from dangxiao import policy
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.queries import get_or_404
from dangxiao.templating import human_size
from dangxiao.transactions import after_commit
from media import grants, jobs, storage
from media.models import AssetStatus, JobStatus, MediaAsset, TranscodeJob, Upload
from media.policy import MANAGE

#: Largest declared size (or offset): the biggest integer a browser's JSON number carries
#: exactly (~8 PiB). Anything above is nonsense, not "too large" — and would overflow sums.
MAX_BYTES = 2**53 - 1
#: pg_advisory_xact_lock key serialising "read the total, then reserve" between requests.
QUOTA_LOCK_KEY = 0x6D656469615F71  # "media_q"


class QuotaExceeded(DomainError):
    code = "quota_exceeded"
    status = 413


class FileTooLarge(DomainError):
    code = "file_too_large"
    status = 413


def used_bytes() -> int:
    """Sources, published output and the declared size of unfinished uploads (reserved)."""
    column = MediaAsset.size + MediaAsset.output_bytes
    # SQLite's sum() raises on integer overflow; total() adds as floats (exact far beyond any disk).
    summed = func.total(column) if db.session.get_bind().dialect.name == "sqlite" else func.sum(column)
    return int(db.session.scalar(select(func.coalesce(summed, 0))) or 0)


def check_file_size(size: int) -> None:
    """Refuse one file over MEDIA_MAX_UPLOAD_BYTES (before anything is written)."""
    limit = int(current_app.config["MEDIA_MAX_UPLOAD_BYTES"] or 0)
    if limit and size > limit:
        raise FileTooLarge(f"文件太大：{human_size(size)}，单个文件最大 {human_size(limit)}。")


def quota() -> int:
    return int(current_app.config.get("MEDIA_MAX_TOTAL_BYTES") or 0)


def _lock_quota() -> None:
    """PostgreSQL: hold the quota lock until this transaction ends (commit or rollback).

    SQLite needs no lock of its own: :func:`reserve` writes before it reads, and the
    database's single write lock then orders two reservations one after the other.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": QUOTA_LOCK_KEY})


def reserve(asset: MediaAsset) -> None:
    """Add `asset` (its `size` counts against the quota from now on) unless it does not fit.

    Race-free: two uploads started at the same instant cannot both see the room that
    only one of them fits in.
    """
    check_file_size(asset.size)
    limit = quota()
    if limit:
        _lock_quota()
    db.session.add(asset)
    db.session.flush()  # the write before the read
    if not limit:
        return
    used = used_bytes() - asset.size
    if used + asset.size > limit:
        db.session.delete(asset)
        db.session.flush()
        raise QuotaExceeded(
            f"媒体存储空间不足：已用 {human_size(used)}，总额度 {human_size(limit)}，"
            f"无法再存放 {human_size(asset.size)}。请先删除不用的媒体。"
        )


def clean_title(title: str | None, filename: str) -> str:
    text_ = " ".join((title or "").split())[:200]
    if text_:
        return text_
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return stem[:200] or "未命名媒体"


def find_by_hash(sha256: str) -> MediaAsset | None:
    return db.session.scalar(select(MediaAsset).where(MediaAsset.sha256 == sha256))


def get_asset(asset_id: int) -> MediaAsset:
    return get_or_404(MediaAsset, asset_id, "媒体不存在或已被删除。")


def list_assets(status: str | None = None) -> list[MediaAsset]:
    query = select(MediaAsset).order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc())
    if status:
        query = query.where(MediaAsset.status == status)
    return list(db.session.scalars(query))


@dataclass
class Imported:
    asset: MediaAsset
    duplicate: bool


def publish_source(asset: MediaAsset, source: Path, sha256: str, *, link: bool, enqueue: bool = True) -> Imported:
    """Put a complete file under originals/, give the asset its hash and a queued job.

    `link` hard-links the file (an upload's part file, which the caller removes once
    the commit succeeded); otherwise it is copied (an archive on the server stays
    untouched). If the same content is already in the library the existing asset is
    returned (duplicate=True) and this one is left for the caller to drop. The job is
    handed to the queue only after the commit, so a worker never sees a row that is
    not there.
    """
    existing = find_by_hash(sha256)
    if existing is not None and existing.id != asset.id:
        return Imported(existing, True)
    target_rel = storage.original_path(asset.id, asset.original_filename)
    target = storage.absolute(target_rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    if link:
        _link_durably(source, target)
    else:
        _copy_durably(source, target)
    storage.fsync_dir(target.parent)
    job = TranscodeJob(status=JobStatus.queued)
    try:
        # A SAVEPOINT: when the same content finishes uploading at the same moment, the
        # unique hash decides and only this part is undone, not the caller's transaction.
        with db.session.begin_nested():
            asset.sha256 = sha256
            asset.source_path = target_rel
            asset.status = AssetStatus.queued
            job.asset = asset
            db.session.add(job)
    except IntegrityError:
        target.unlink(missing_ok=True)
        existing = find_by_hash(sha256)
        if existing is None:
            raise
        return Imported(existing, True)
    if enqueue:
        after_commit(partial(jobs.enqueue, job.id))
    return Imported(asset, False)


def _link_durably(source: Path, target: Path) -> None:
    """Hard-link `source` as `target` (replacing a leftover); copy when the disk cannot link."""
    staged = target.with_name(target.name + ".linking")
    staged.unlink(missing_ok=True)
    try:
        os.link(source, staged)
    except OSError:
        _copy_durably(source, target)
        return
    os.replace(staged, target)


def _copy_durably(source: Path, target: Path) -> None:
    partial_ = target.with_name(target.name + ".partial")
    with source.open("rb") as src, partial_.open("wb") as dst:
        shutil.copyfileobj(src, dst, storage.HASH_BLOCK)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(partial_, target)


def import_file(
    actor: Any, path: str | os.PathLike[str], title: str | None = None, *, enqueue: bool = True
) -> Imported:
    """A file already on the server (CLI import): copied in, the archive stays untouched.

    Content already in the library is not imported twice (duplicate=True).
    """
    policy.require(actor, MANAGE)
    path = Path(path)
    size = path.stat().st_size
    check_file_size(size)
    sha256 = storage.sha256_file(path)
    existing = find_by_hash(sha256)
    if existing is not None:
        return Imported(existing, True)
    storage.ensure_dirs()
    # Copy before the first write of this transaction: the quota lock (and SQLite's write lock)
    # must not be held while a large file is copied. A copy left by a rollback is swept later.
    staged = storage.media_root() / "uploads" / f"import-{secrets.token_hex(8)}.part"
    _copy_durably(path, staged)
    filename = storage.clean_filename(path.name)
    asset = MediaAsset(
        title=clean_title(title, filename),
        original_filename=filename,
        size=size,
        status=AssetStatus.uploading,
        created_by_id=getattr(actor, "id", None),
    )
    try:
        reserve(asset)
        result = publish_source(asset, staged, sha256, link=True, enqueue=enqueue)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    after_commit(partial(staged.unlink, missing_ok=True))
    if result.duplicate:
        db.session.delete(asset)
        db.session.flush()
    return result


def delete_asset(actor: Any, asset: MediaAsset) -> None:
    """Remove the rows and (after the commit) every file: upload part, source, output, leftovers.

    A worker still transcoding it loses its claim (the row is gone), kills ffmpeg
    and removes what it was writing.
    """
    policy.require(actor, MANAGE, asset)
    remove_asset(asset)


def remove_asset(asset: MediaAsset) -> None:
    """The rows now (uploads go with the asset), the files once that is committed."""
    upload_paths = [u.temp_path for u in db.session.scalars(select(Upload).where(Upload.asset_id == asset.id))]
    source, asset_id = asset.source_path, asset.id
    db.session.delete(asset)
    db.session.flush()
    after_commit(partial(_remove_files, upload_paths, source, asset_id))


def _remove_files(upload_paths: list[str], source: str | None, asset_id: int) -> None:
    for rel in upload_paths:
        storage.remove_file(rel)
    storage.remove_file(source)
    storage.remove_tree(storage.asset_dir(asset_id))


def retryable(asset: MediaAsset) -> bool:
    """Offer 重新转码: a failed or cancelled job whose failure is not in the file itself."""
    job = asset.job
    return (
        job is not None
        and asset.source_path is not None
        and job.status in (JobStatus.failed, JobStatus.cancelled)
        and asset.failure_code not in jobs.PERMANENT_FAILURES
    )


def asset_urls(asset: MediaAsset, subject: str) -> dict[str, str] | None:
    """Granted URLs of a ready asset's files for `subject` (grants.member/device/staff), or None.

    Each call issues a fresh grant (MEDIA_GRANT_TTL); only hand the URLs to someone who may
    watch the asset: the caller decides that, delivery only checks the signature.
    """
    if not asset.is_ready:
        return None
    grant = grants.issue(asset.id, subject)

    def url(name: str) -> str:
        return url_for("media_files.file", grant=grant, asset_id=asset.id, version=asset.version, name=name)

    urls = {"poster": url("poster.jpg"), "fallback": url(asset.fallback_name or "video.mp4")}
    urls["hls"] = url("master.m3u8")
    return urls


_RUNG = re.compile(r"^(\d{3,4})p$")
#: What Chinese video sites call each height; the rung's own name stays next to it.
QUALITY_WORDS = ((1080, "超清"), (720, "高清"), (480, "标清"), (0, "流畅"))


def rendition_label(rendition: dict[str, Any]) -> str:
    """ "720p" → "高清 720p", "audio" → "音频" (the tag on the asset page)."""
    name = str(rendition.get("name") or "")
    if name == "audio":
        return "音频"
    match = _RUNG.match(name)
    if match is None:
        return name
    height = int(match.group(1))
    word = next(word for floor, word in QUALITY_WORDS if height >= floor)
    return f"{word} {name}"
