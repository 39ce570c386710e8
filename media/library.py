"""Assets: creating them from a finished file, the disk quota, listing and deleting.

Views, the upload API and the CLI all come through here, so an import from a folder
and an upload from the browser make exactly the same rows and files.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.templating import human_size
from media import jobs, storage
from media.models import AssetStatus, JobStatus, MediaAsset, TranscodeJob, Upload


class QuotaExceeded(DomainError):
    code = "quota_exceeded"
    status = 413


class FileTooLarge(DomainError):
    code = "file_too_large"
    status = 413


def used_bytes() -> int:
    """Sources, published output and the declared size of unfinished uploads (reserved)."""
    total = db.session.scalar(select(func.coalesce(func.sum(MediaAsset.size + MediaAsset.output_bytes), 0)))
    return int(total or 0)


def check_size(size: int) -> None:
    """Refuse a file over the per-file limit or one that would push the library over its quota."""
    limit = int(current_app.config["MEDIA_MAX_UPLOAD_BYTES"])
    if limit and size > limit:
        raise FileTooLarge(f"文件太大：{human_size(size)}，单个文件最大 {human_size(limit)}。")
    quota = int(current_app.config.get("MEDIA_MAX_TOTAL_BYTES") or 0)
    if quota:
        used = used_bytes()
        if used + size > quota:
            raise QuotaExceeded(
                f"媒体存储空间不足：已用 {human_size(used)}，总额度 {human_size(quota)}，"
                f"无法再存放 {human_size(size)}。请先删除不用的媒体。"
            )


def clean_title(title: str | None, filename: str) -> str:
    text = " ".join((title or "").split())[:200]
    if text:
        return text
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return stem[:200] or "未命名媒体"


def find_by_hash(sha256: str) -> MediaAsset | None:
    return db.session.scalar(select(MediaAsset).where(MediaAsset.sha256 == sha256))


def get_asset(asset_id: int) -> MediaAsset:
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None:
        raise NotFound("媒体不存在或已被删除。")
    return asset


def list_assets(status: str | None = None) -> list[MediaAsset]:
    query = select(MediaAsset).order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc())
    if status:
        query = query.where(MediaAsset.status == status)
    return list(db.session.scalars(query))


@dataclass
class Imported:
    asset: MediaAsset
    duplicate: bool


def publish_source(asset: MediaAsset, source: Path, sha256: str, *, move: bool, enqueue: bool = True) -> Imported:
    """Put a complete file under originals/, give the asset its hash and a queued job.

    If the same content is already in the library the existing asset is returned
    (duplicate=True) and this one is left for the caller to drop. The job is handed
    to the queue only after the commit, so a worker never sees a row that is not there.
    """
    existing = find_by_hash(sha256)
    if existing is not None and existing.id != asset.id:
        return Imported(existing, True)
    target_rel = storage.original_path(asset.id, asset.original_filename)
    target = storage.absolute(target_rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    if move:
        os.replace(source, target)
    else:
        _copy_durably(source, target)
    storage.fsync_dir(target.parent)
    asset.sha256 = sha256
    asset.source_path = target_rel
    asset.status = AssetStatus.queued
    job = TranscodeJob(asset=asset, status=JobStatus.queued)
    db.session.add(job)
    try:
        db.session.commit()
    except IntegrityError:
        # The same content finished uploading at the same moment: the unique hash decided.
        db.session.rollback()
        if move:
            os.replace(target, source)
        else:
            target.unlink(missing_ok=True)
        existing = find_by_hash(sha256)
        if existing is None:
            raise
        return Imported(existing, True)
    if enqueue:
        jobs.enqueue(job.id)
    return Imported(asset, False)


def _copy_durably(source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    with source.open("rb") as src, partial.open("wb") as dst:
        shutil.copyfileobj(src, dst, storage.HASH_BLOCK)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(partial, target)


def import_file(path: Path, title: str | None = None, user_id: int | None = None,
                *, enqueue: bool = True) -> Imported:
    """A file already on the server (CLI import): copied in, the archive stays untouched."""
    path = Path(path)
    size = path.stat().st_size
    sha256 = storage.sha256_file(path)
    existing = find_by_hash(sha256)
    if existing is not None:
        return Imported(existing, True)
    check_size(size)
    storage.ensure_dirs()
    filename = storage.clean_filename(path.name)
    asset = MediaAsset(title=clean_title(title, filename), original_filename=filename, size=size,
                       status=AssetStatus.uploading, created_by_id=user_id)
    db.session.add(asset)
    db.session.flush()
    try:
        result = publish_source(asset, path, sha256, move=False, enqueue=enqueue)
    except BaseException:
        db.session.rollback()
        raise
    if result.duplicate:
        db.session.rollback()
    return result


def delete_asset(asset: MediaAsset) -> None:
    """Remove the rows and every file: upload part, source, published output, leftovers.

    A worker still transcoding it loses its claim (the row is gone), kills ffmpeg
    and removes what it was writing.
    """
    upload_paths = [u.temp_path for u in db.session.scalars(select(Upload).where(Upload.asset_id == asset.id))]
    source, asset_id = asset.source_path, asset.id
    db.session.delete(asset)
    db.session.commit()
    for rel in upload_paths:
        storage.remove_file(rel)
    storage.remove_file(source)
    storage.remove_tree(storage.asset_dir(asset_id))


def asset_urls(asset: MediaAsset) -> dict[str, str] | None:
    """Public URLs of a ready asset's files (what a lesson page or a set-top box plays)."""
    if not asset.is_ready:
        return None

    def url(name: str) -> str:
        return url_for("media_files.file", asset_id=asset.id, version=asset.version, name=name)

    urls = {"poster": url("poster.jpg"), "fallback": url(asset.fallback_name or "video.mp4")}
    urls["hls"] = url("master.m3u8")
    return urls
