"""Attachments of help requests: PDFs or images, checked by content, stored under MEDIA_ROOT/help/.

Each file is stored as ``help/<request id>/<random>.<ext>``: the name the member gave is
only shown, never used as a path, and the random part keeps URLs unguessable even though
every download also asks :func:`open_for`, which answers 404 to anyone who may not see
the request (or, for a held message's file, the message). All uploads of one submission
are checked before any is written, so a bad third file leaves no first two behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import select

from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.uploads import check_attachment, read_limited, write_atomic
from forum.helpdesk import handlers
from forum.helpdesk.models import HelpAttachment, HelpMessage, HelpRequest, MessageState
from media import storage

NOT_FOUND = "附件不存在或您无权查看。"


def check_count(uploads: Iterable[Any]) -> None:
    """Refuse more than HELPDESK_MAX_ATTACHMENTS files before anything else is done."""
    limit = int(current_app.config["HELPDESK_MAX_ATTACHMENTS"])
    if len(list(uploads)) > limit:
        raise DomainError(f"每次最多上传 {limit} 个附件。", "too_many_files", "attachments")


def _display_name(filename: str | None, extension: str) -> str:
    name = storage.clean_filename(filename or "")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem[: 120 - len(extension) - 1]
    return f"{stem or '附件'}.{extension}"


def checked(uploads: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes, str, str]]:
    """(display name, data, mimetype, extension) per upload, or the refusal of the first bad one."""
    uploads = [(name, data) for name, data in uploads if data]  # an empty file input sends b""
    check_count(uploads)
    limit = int(current_app.config["HELPDESK_ATTACHMENT_MAX_BYTES"])
    out = []
    for name, raw in uploads:
        data = read_limited(raw, limit, "附件")
        mimetype, extension = check_attachment(data)
        out.append((_display_name(name, extension), data, mimetype, extension))
    return out


def store(actor: Any, req: HelpRequest, files: list[tuple[str, bytes, str, str]], message: HelpMessage | None = None):
    """Write uploads already passed through :func:`checked` (the caller checked `actor` may add them)."""
    rows = []
    for name, data, mimetype, extension in files:
        relative = f"help/{req.id}/{secrets.token_hex(16)}.{extension}"
        write_atomic(relative, data)  # before the commit: an orphan left by a rollback is harmless
        rows.append(
            HelpAttachment(
                request_id=req.id,
                message_id=message.id if message is not None else None,
                uploader_id=getattr(actor, "id", None),
                filename=name,
                path=relative,
                mimetype=mimetype,
                size=len(data),
            )
        )
    if rows:
        db.session.add_all(rows)
        db.session.flush()
    return rows


def save(
    actor: Any, req: HelpRequest, uploads: list[tuple[str, bytes]], message: HelpMessage | None = None
) -> list[HelpAttachment]:
    """Check and store `uploads` (name, bytes) on `req` (and `message`); NotFound if `actor` cannot see `req`."""
    if not handlers.may_view(actor, req):
        raise NotFound(handlers.NOT_VISIBLE)
    return store(actor, req, checked(uploads), message)


def for_request(req: HelpRequest) -> list[HelpAttachment]:
    """Every attachment of `req`, oldest first (the caller filters held messages' files)."""
    return list(
        db.session.scalars(
            select(HelpAttachment)
            .where(HelpAttachment.request_id == req.id)
            .order_by(HelpAttachment.created_at, HelpAttachment.id)
        )
    )


def visible_to(actor: Any, attachment: HelpAttachment) -> bool:
    """A held or rejected message's files are its author's only (like the message)."""
    if attachment.message_id is None:
        return True
    message = db.session.get(HelpMessage, attachment.message_id)
    return message is not None and (
        message.state == MessageState.published or message.author_id == getattr(actor, "id", None)
    )


def open_for(actor: Any, request_id: int, attachment_id: int) -> tuple[HelpAttachment, str]:
    """(row, absolute path) of an attachment `actor` may download; NotFound otherwise."""
    try:
        req = handlers.get_visible(actor, request_id)
    except NotFound:
        raise NotFound(NOT_FOUND) from None
    attachment = db.session.get(HelpAttachment, attachment_id) if 0 < int(attachment_id) < 2**63 else None
    if attachment is None or attachment.request_id != req.id or not visible_to(actor, attachment):
        raise NotFound(NOT_FOUND)
    try:
        path = storage.absolute(attachment.path)
    except ValueError:
        raise NotFound(NOT_FOUND) from None
    if not path.is_file():
        raise NotFound(NOT_FOUND)
    return attachment, str(path)
