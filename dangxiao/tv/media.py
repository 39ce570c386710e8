"""Stable play, poster and cover URLs for stations: each redirects to a freshly granted media URL.

Feeds are cached per catalogue version and boxes keep playlists for days, while a media
grant expires (MEDIA_GRANT_TTL). So feeds list these URLs, which never change for a lesson,
and each request is answered with a 302 to the media files under a new grant for subject
``d<device id>`` (``Cache-Control: no-store``: the redirect itself must not be kept). The
station must be allowed to watch the lesson *now* (``catalog.lesson_for_device``): another
branch's member-only course, an unpublished course or an asset that is not ready is a 404
JSON answer, never a redirect.

The course cover is served here (the school's cover route is for logged-in members), or,
for a course without one, redirects to its first lesson's poster.
"""

from __future__ import annotations

from urllib.parse import urljoin

from flask import Blueprint, Response, jsonify, redirect, request, send_file
from sqlalchemy import select

from dangxiao.access import DEVICE, current_device
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.school.models import Course
from dangxiao.tv import catalog
from media import grants, library, storage

bp = Blueprint("tv_media", __name__)
ACCESS = {"hls": DEVICE, "mp4": DEVICE, "poster": DEVICE, "cover": DEVICE}
BLUEPRINTS = [(bp, ACCESS, True)]


@bp.errorhandler(DomainError)
def refused(error: DomainError):
    """Players and boxes read JSON (or nothing): never the site's HTML error page."""
    return jsonify(error={"code": error.code, "message": error.message}), error.status


def _to_media(lesson_id: int, which: str) -> Response:
    device = current_device()
    lesson = catalog.lesson_for_device(device, lesson_id)
    urls = library.asset_urls(lesson.asset, grants.device(device.id))
    if urls is None:
        raise NotFound("课时不存在或本站点无权观看。", "lesson_not_found")
    response = redirect(urljoin(request.host_url, urls[which]), code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/tv/play/<int:lesson_id>/master.m3u8")
def hls(lesson_id: int):
    return _to_media(lesson_id, "hls")


@bp.get("/tv/play/<int:lesson_id>/video.mp4")
def mp4(lesson_id: int):
    return _to_media(lesson_id, "fallback")


@bp.get("/tv/poster/<int:lesson_id>.jpg")
def poster(lesson_id: int):
    return _to_media(lesson_id, "poster")


@bp.get("/tv/cover/<int:course_id>.jpg")
def cover(course_id: int):
    course = catalog.course_for_device(current_device(), course_id)
    if course.has_cover:
        path = db.session.scalar(select(Course.cover_path).where(Course.id == course_id))
        try:
            absolute = storage.absolute(path) if path else None
        except ValueError:
            absolute = None
        if absolute is not None and absolute.is_file():
            response = send_file(absolute, mimetype="image/jpeg", conditional=True)
            response.headers["Cache-Control"] = "private, no-cache"  # the URL stays when the cover changes
            return response
    return _to_media(course.lessons[0].id, "poster")
