"""Attachments are checked by content: an executable named .jpg or a web page named .pdf is refused
naming what it really is; accepted files land under MEDIA_ROOT/help/<request id>/ with random names."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image
from sqlalchemy import func, select

from dangxiao import uploads
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from forum.helpdesk import attachments
from forum.helpdesk.models import HelpAttachment, HelpRequest
from tests.forum.helpdesk.support import file, refused, user

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
POLYGLOT = b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (20, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def test_pdf_and_image_are_stored_under_random_names(ctx, world):
    req = file(uploads=[("C:\\证明材料\\介绍信.PDF", PDF), ("照片.jpeg", jpeg()), ("空.png", b"")])
    rows = attachments.for_request(req)
    assert [(r.filename, r.mimetype) for r in rows] == [("介绍信.pdf", "application/pdf"), ("照片.jpg", "image/jpeg")]
    for row in rows:
        assert row.path.startswith(f"help/{req.id}/") and "介绍信" not in row.path
        _, path = attachments.open_for(user("zhaoliu"), req.id, row.id)
        assert os.path.getsize(path) == row.size


@pytest.mark.parametrize(
    "name, data, real",
    [("photo.jpg", EXE, "Windows 可执行程序"), ("letter.pdf", HTML, "网页"), ("letter.pdf", POLYGLOT, "网页")],
)
def test_files_that_are_not_what_they_say_are_refused(ctx, world, name, data, real):
    error = refused("file_type", file, uploads=[(name, data)])
    assert real in error.message
    assert db.session.scalar(select(func.count(HelpRequest.id))) == 0
    assert db.session.scalar(select(func.count(HelpAttachment.id))) == 0


def test_count_and_size_limits(ctx, world, app):
    refused("too_many_files", file, uploads=[(f"{n}.pdf", PDF) for n in range(4)])
    app.config["HELPDESK_ATTACHMENT_MAX_BYTES"] = 1024
    refused("file_too_large", file, uploads=[("big.pdf", PDF + b"0" * 2048)])


def test_shared_content_checks():
    assert uploads.detect_kind(b"\x7fELF\x02\x01") == "可执行程序（ELF）"
    assert uploads.detect_kind(b"\xef\xbb\xbf  <html lang=zh>") == uploads.HTML_NAME
    assert uploads.looks_like_html(POLYGLOT) and not uploads.looks_like_html(PDF)
    assert uploads.check_attachment(PDF) == ("application/pdf", "pdf")
    with pytest.raises(DomainError, match="图片已损坏"):
        uploads.check_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
