"""Where media files live under MEDIA_ROOT, and the only code that builds those paths.

    MEDIA_ROOT/uploads/<upload id>.part     bytes of an unfinished upload
    MEDIA_ROOT/originals/<asset id>.<ext>   the source, kept so a failed job can be retried
    MEDIA_ROOT/assets/<asset id>/<version>/ the published output (see media.transcode)
    MEDIA_ROOT/assets/<asset id>/.<version>.partial-*   a transcode in progress (or a killed one's)

Paths stored in the database are relative to MEDIA_ROOT, so the folder can move. Everything
under ``assets/`` is world-readable (folders 0755, files 0644): nginx may run as another user.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from flask import current_app

HASH_BLOCK = 1024 * 1024
_EXT = re.compile(r"^[a-z0-9]{1,8}$")

#: File names a client may ask for inside an asset's output folder.
SERVED_NAME = re.compile(r"^(?:[A-Za-z0-9_-]{1,40}/)?[A-Za-z0-9_-]{1,64}\.(m3u8|ts|mp4|m4a|jpg)$")

VIDEO_EXTENSIONS = frozenset(
    "mp4 m4v mov mkv webm avi flv f4v wmv asf mpg mpeg mpe vob ts mts m2ts 3gp 3g2 ogv rm rmvb dv mxf".split()
)
AUDIO_EXTENSIONS = frozenset("mp3 m4a aac wav flac ogg oga opus wma amr ac3 mka aiff aif".split())


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


def absolute(relative: str) -> Path:
    """MEDIA_ROOT/relative, refusing anything that would land outside MEDIA_ROOT."""
    root = media_root().resolve()
    path = (root / relative).resolve()
    if path != root and root not in path.parents:
        raise ValueError(f"path escapes MEDIA_ROOT: {relative!r}")
    return path


def relative(path: Path) -> str:
    return path.resolve().relative_to(media_root().resolve()).as_posix()


def extension(filename: str) -> str:
    """Lower-case extension of a client-supplied name, or "bin" when it is odd."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return ext if _EXT.match(ext) else "bin"


def is_media_filename(filename: str) -> bool:
    return extension(filename) in VIDEO_EXTENSIONS | AUDIO_EXTENSIONS


def clean_filename(filename: str) -> str:
    """A display name: the last path part, control characters dropped, at most 255 chars."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:255] or "未命名文件"


def upload_path(upload_id: int) -> str:
    return f"uploads/{upload_id}.part"


def original_path(asset_id: int, filename: str) -> str:
    return f"originals/{asset_id}.{extension(filename)}"


def asset_dir(asset_id: int) -> str:
    return f"assets/{asset_id}"


def output_dir(asset_id: int, version: str) -> str:
    return f"{asset_dir(asset_id)}/{version}"


PUBLIC_DIR_MODE = 0o755


def ensure_dirs() -> None:
    for name in ("uploads", "originals", "assets"):
        (media_root() / name).mkdir(parents=True, exist_ok=True)
    os.chmod(media_root() / "assets", PUBLIC_DIR_MODE)


def prepare_asset_dir(asset_id: int) -> Path:
    """MEDIA_ROOT/assets/<id>, created readable for the web server whatever the umask."""
    folder = absolute(asset_dir(asset_id))
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder.parent, PUBLIC_DIR_MODE)
    os.chmod(folder, PUBLIC_DIR_MODE)
    return folder


def asset_ids_on_disk() -> list[int]:
    """Ids of every folder under MEDIA_ROOT/assets (for the sweep)."""
    folder = media_root() / "assets"
    if not folder.is_dir():
        return []
    return sorted(int(entry.name) for entry in folder.iterdir() if entry.name.isdigit() and entry.is_dir())


def sha256_file(path: Path) -> str:
    """Content hash read in blocks (files may be gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename durable: fsync the directory that holds the new name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def remove_tree(relative_dir: str | None) -> None:
    if relative_dir:
        shutil.rmtree(absolute(relative_dir), ignore_errors=True)


def remove_file(relative_file: str | None) -> None:
    if relative_file:
        try:
            absolute(relative_file).unlink()
        except FileNotFoundError:
            pass


def clear_asset_dir(asset_id: int, keep: Iterable[str | None] = (), older_than: float | None = None) -> list[str]:
    """Remove leftovers of earlier attempts: partial folders of a killed worker (``.*.partial-*``),
    swapped-out ``.*.old-*`` folders, versions nobody serves — everything but the names in
    ``keep``. With ``older_than`` (a timestamp) only entries last changed before it go. The
    asset folder itself goes too once empty. Returns the removed paths (relative to MEDIA_ROOT).
    """
    folder = absolute(asset_dir(asset_id))
    if not folder.is_dir():
        return []
    kept = {name for name in keep if name}
    removed = []
    for entry in folder.iterdir():
        if entry.name in kept:
            continue
        try:
            if older_than is not None and entry.lstat().st_mtime >= older_than:
                continue
        except FileNotFoundError:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(f"{asset_dir(asset_id)}/{entry.name}")
    if not kept:
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass
    return removed


def served_file(output: str, name: str) -> Path | None:
    """The file `name` inside an asset's output folder, or None if it may not be served."""
    if not SERVED_NAME.match(name):
        return None
    base = absolute(output)
    path = (base / name).resolve()
    if base not in path.parents or not path.is_file():
        return None
    return path
