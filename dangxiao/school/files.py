"""Course covers and lesson attachments: checked by their content, never by their name.

A cover must really be a JPEG, PNG or WebP (Pillow opens and verifies it); it is re-encoded
to a JPEG at most 800 px wide, so pages stay light and nothing the uploader wrote is served
back. An attachment must be a PDF (starts with ``%PDF-``) or an image Pillow verifies.
Files are written before the commit under MEDIA_ROOT/school/ (an orphan left by a rollback
is harmless) and removed only after the commit that forgot them.

Members reach them through the ``school_files`` blueprint, which asks the school policy.
"""

from __future__ import annotations

import io
import os
import secrets
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from flask import Blueprint, abort, send_file
from flask_login import current_user
from PIL import Image, UnidentifiedImageError

from dangxiao.access import LOGIN
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.queries import get_or_404
from dangxiao.school.models import LessonAttachment
from dangxiao.templating import human_size
from dangxiao.transactions import after_commit
from media import storage

MANAGE = "school.manage"
COVER_MAX_BYTES = 5 * 1024 * 1024
COVER_MAX_WIDTH = 800
COVER_FORMATS = {"JPEG", "PNG", "WEBP"}
ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
ATTACHMENT_IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
MAX_PIXELS = 40_000_000  # larger images are refused before decoding (decompression bombs)

bp = Blueprint("school_files", __name__, url_prefix="/school")
BLUEPRINTS = [(bp, {"cover": LOGIN})]  # handouts are served by pages.attachment

# Magic numbers → what to call the file in a refusal ("这个文件实际是 Windows 可执行程序").
_SIGNATURES = (
    (b"%PDF-", "PDF 文档"),
    (b"\x89PNG\r\n\x1a\n", "PNG 图片"),
    (b"\xff\xd8\xff", "JPEG 图片"),
    (b"GIF87a", "GIF 图片"),
    (b"GIF89a", "GIF 图片"),
    (b"MZ", "Windows 可执行程序（EXE）"),
    (b"\x7fELF", "可执行程序（ELF）"),
    (b"PK\x03\x04", "ZIP 压缩包（或 Word/Excel 文档）"),
    (b"Rar!", "RAR 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
    (b"\xd0\xcf\x11\xe0", "旧版 Office 文档（doc/xls）"),
    (b"{\\rtf", "RTF 文档"),
)


def detect_kind(head: bytes) -> str:
    """A human name for what the first bytes say the file is."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP 图片"
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        return "视频文件（MP4/MOV）"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<script", b"<head", b"<body", b"<svg", b"<?xml")):
        return "网页或 XML 文件（HTML/SVG）"
    if not head:
        return "空文件"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "无法识别的格式"
    return "纯文本文件"


def _read_limited(upload: IO[bytes] | bytes, limit: int, label: str) -> bytes:
    data = upload if isinstance(upload, bytes) else upload.read(limit + 1)
    if len(data) > limit:
        raise DomainError(f"{label}太大：单个文件最大 {human_size(limit)}。", "file_too_large", "file")
    if not data:
        raise DomainError(f"请选择要上传的{label}。", "file_empty", "file")
    return data


def _open_image(data: bytes, allowed: Iterable[str]) -> Image.Image:
    """Open and verify an image; refuse other content (naming what it is) and bombs."""
    allowed = set(allowed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in allowed:
                raise UnidentifiedImageError(image.format)
            if image.width * image.height > MAX_PIXELS:
                raise Image.DecompressionBombError("too many pixels")
            image.verify()
        image = Image.open(io.BytesIO(data))  # verify() leaves the image unusable
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DomainError("图片尺寸过大，请缩小后再上传。", "image_too_large", "file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        kinds = "、".join(sorted(allowed))
        raise DomainError(
            f"只能上传 {kinds} 格式的图片：这个文件实际是{detect_kind(data[:64])}，或图片已损坏。",
            "file_type",
            "file",
        ) from None
    return image


def _write(relative: str, data: bytes) -> None:
    target = storage.absolute(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with partial.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(partial, 0o644)
    os.replace(partial, target)


def remove_files(paths: Iterable[str | None]) -> None:
    """After a commit: remove stored files (missing ones are fine)."""
    for rel in paths:
        if rel:
            storage.remove_file(rel)


# ---------------------------------------------------------------- covers


def reencode_cover(data: bytes) -> bytes:
    """A verified JPEG/PNG/WebP → a JPEG at most 800 px wide (transparency on white)."""
    image = _open_image(data, COVER_FORMATS)
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    else:
        image = image.convert("RGB")
    if image.width > COVER_MAX_WIDTH:
        height = max(1, round(image.height * COVER_MAX_WIDTH / image.width))
        image = image.resize((COVER_MAX_WIDTH, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82, optimize=True, progressive=True)
    return out.getvalue()


def save_cover(actor: Any, course_id: int, upload: IO[bytes] | bytes) -> str:
    """Check, re-encode and store a course's cover; returns its path under MEDIA_ROOT."""
    from dangxiao.school.catalogue import get_course

    require(actor, MANAGE)
    course = get_course(course_id)
    jpeg = reencode_cover(_read_limited(upload, COVER_MAX_BYTES, "封面图片"))
    relative = f"school/covers/{course.id}-{secrets.token_hex(6)}.jpg"
    _write(relative, jpeg)
    old, course.cover_path = course.cover_path, relative
    db.session.flush()
    after_commit(lambda: remove_files([old]))
    return relative


def remove_cover(actor: Any, course_id: int) -> None:
    from dangxiao.school.catalogue import get_course

    require(actor, MANAGE)
    course = get_course(course_id)
    old, course.cover_path = course.cover_path, None
    db.session.flush()
    after_commit(lambda: remove_files([old]))


# ---------------------------------------------------------------- attachments


def check_attachment(data: bytes) -> tuple[str, str]:
    """(mimetype, extension) of an acceptable handout, else the refusal naming its real kind."""
    if data.startswith(b"%PDF-"):
        return "application/pdf", "pdf"
    if detect_kind(data[:64]).endswith("图片"):
        image = _open_image(data, ATTACHMENT_IMAGE_FORMATS)
        return ATTACHMENT_IMAGE_FORMATS[image.format], image.format.lower().replace("jpeg", "jpg")
    raise DomainError(
        f"附件只能是 PDF 文档或图片（JPEG/PNG/WebP/GIF）：这个文件实际是{detect_kind(data[:64])}。",
        "file_type",
        "file",
    )


def _display_name(filename: str | None, extension: str) -> str:
    name = storage.clean_filename(filename or "")[:150]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem or '附件'}.{extension}"


def add_attachment(actor: Any, lesson_id: int, filename: str | None, upload: IO[bytes] | bytes) -> LessonAttachment:
    """Store a PDF or image handout for a lesson under a random name."""
    from dangxiao.school.catalogue import get_lesson

    require(actor, MANAGE)
    lesson = get_lesson(lesson_id)
    data = _read_limited(upload, ATTACHMENT_MAX_BYTES, "附件")
    mimetype, extension = check_attachment(data)
    relative = f"school/attachments/{secrets.token_hex(16)}.{extension}"
    _write(relative, data)
    attachment = LessonAttachment(
        filename=_display_name(filename, extension), stored_path=relative, mimetype=mimetype, size=len(data)
    )
    lesson.attachments.append(attachment)
    db.session.flush()
    return attachment


def get_attachment(attachment_id: int) -> LessonAttachment:
    return get_or_404(LessonAttachment, attachment_id, "附件不存在。")


def delete_attachment(actor: Any, attachment_id: int) -> str:
    """Delete a handout; returns its file name."""
    require(actor, MANAGE)
    attachment = get_attachment(attachment_id)
    path = attachment.stored_path
    db.session.delete(attachment)
    db.session.flush()
    after_commit(lambda: remove_files([path]))
    return attachment.filename


# ---------------------------------------------------------------- delivery


def _existing(relative: str | None) -> Path:
    if not relative:
        abort(404)
    try:
        path = storage.absolute(relative)
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    return path


@bp.get("/covers/<int:course_id>.jpg")
def cover(course_id: int):
    from dangxiao.school.catalogue import get_course

    course = get_course(course_id)
    require(current_user, "school.view_course", course, "您无权查看该课程。")
    response = send_file(_existing(course.cover_path), mimetype="image/jpeg", conditional=True, max_age=86400)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
