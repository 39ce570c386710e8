"""Uploaded files checked by their content, never by their name (school handouts, help-desk attachments).

A file is what its first bytes say it is: :func:`detect_kind` names it for a refusal
("这个文件实际是 Windows 可执行程序"). An image must open and verify in Pillow, with
decompression bombs refused before decoding. A PDF must start with ``%PDF-`` and its
first KB must not look like a web page: an HTML file with a PDF header glued on would be
rendered as a page by a browser sniffing the content. Files are written atomically (a
``.partial`` then a rename) under MEDIA_ROOT; removal happens after the commit that
forgot them.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterable
from typing import IO

from PIL import Image, UnidentifiedImageError

from dangxiao.errors import DomainError
from dangxiao.templating import human_size
from media import storage

IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
MAX_PIXELS = 40_000_000  # larger images are refused before decoding (decompression bombs)
HTML_NAME = "网页或 XML 文件（HTML/SVG）"

# Magic numbers → what to call the file in a refusal.
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
_HTML_START = (b"<!doctype html", b"<html", b"<script", b"<head", b"<body", b"<svg", b"<?xml", b"<!--", b"<iframe")
# Tags a browser sniffing content treats as HTML anywhere in the first KB.
_HTML_INSIDE = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|script|iframe|svg)[\s>/]", re.I)


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
    if text.startswith(_HTML_START):
        return HTML_NAME
    if not head:
        return "空文件"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "无法识别的格式"
    return "纯文本文件"


def looks_like_html(data: bytes) -> bool:
    """Would a browser sniffing the first KB take this for a page?"""
    return bool(_HTML_INSIDE.search(data[:1024]))


def read_limited(upload: IO[bytes] | bytes, limit: int, label: str) -> bytes:
    """The upload's bytes, refusing an empty one or one over `limit` (a stream is read at most limit+1)."""
    data = upload if isinstance(upload, bytes) else upload.read(limit + 1)
    if len(data) > limit:
        raise DomainError(f"{label}太大：单个文件最大 {human_size(limit)}。", "file_too_large", "file")
    if not data:
        raise DomainError(f"请选择要上传的{label}。", "file_empty", "file")
    return data


def open_image(data: bytes, allowed: Iterable[str]) -> Image.Image:
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


def check_attachment(data: bytes, label: str = "附件") -> tuple[str, str]:
    """(mimetype, extension) of an acceptable PDF or image, else the refusal naming its real kind."""
    if data.startswith(b"%PDF-"):
        if looks_like_html(data):
            raise DomainError(
                f"{label}只能是 PDF 文档或图片：这个文件实际是{HTML_NAME}，只是开头写成了 PDF。",
                "file_type",
                "file",
            )
        return "application/pdf", "pdf"
    if detect_kind(data[:64]).endswith("图片"):
        image = open_image(data, IMAGE_FORMATS)
        return IMAGE_FORMATS[image.format], image.format.lower().replace("jpeg", "jpg")
    raise DomainError(
        f"{label}只能是 PDF 文档或图片（JPEG/PNG/WebP/GIF）：这个文件实际是{detect_kind(data[:64])}。",
        "file_type",
        "file",
    )


def write_atomic(relative: str, data: bytes) -> None:
    """Write MEDIA_ROOT/relative through a .partial file and a rename: readers never see half a file."""
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
