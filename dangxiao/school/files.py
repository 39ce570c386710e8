"""Course covers and lesson attachments: checked by their content, never by their name.

A cover must really be a JPEG, PNG or WebP (Pillow opens and verifies it); it is re-encoded
to a JPEG at most 800 px wide, so pages stay light and nothing the uploader wrote is served
back. An attachment must be a PDF (starts with ``%PDF-``, not a web page) or an image Pillow
verifies; the checks themselves live in :mod:`dangxiao.uploads`, shared with the help desk.
Files are written before the commit under MEDIA_ROOT/school/ (an orphan left by a rollback
is harmless) and removed only after the commit that forgot them.

Members reach them through the ``school_files`` blueprint, which asks the school policy.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import IO, Any

from flask import Blueprint, abort, send_file
from flask_login import current_user
from PIL import Image

from dangxiao.access import LOGIN
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.queries import get_or_404
from dangxiao.school.models import LessonAttachment
from dangxiao.transactions import after_commit
from dangxiao.uploads import IMAGE_FORMATS, MAX_PIXELS, detect_kind, remove_files  # noqa: F401  (re-exported)
from dangxiao.uploads import check_attachment as _check
from dangxiao.uploads import open_image as _open_image
from dangxiao.uploads import read_limited as _read_limited
from dangxiao.uploads import write_atomic as _write
from media import storage

MANAGE = "school.manage"
COVER_MAX_BYTES = 5 * 1024 * 1024
COVER_MAX_WIDTH = 800
COVER_FORMATS = {"JPEG", "PNG", "WEBP"}
ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
ATTACHMENT_IMAGE_FORMATS = IMAGE_FORMATS

bp = Blueprint("school_files", __name__, url_prefix="/school")
BLUEPRINTS = [(bp, {"cover": LOGIN})]  # handouts are served by pages.attachment

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
    return _check(data)


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
