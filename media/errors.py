"""The one error type the media layer raises, so the job layer can show admins why."""

from __future__ import annotations


class MediaError(Exception):
    """A file we cannot turn into a playable lesson.

    ``code`` is a short English slug for programs and logs ("no_streams", "zero_duration",
    "undecodable", "not_media", "empty", "ffmpeg_failed", "cancelled", ...); ``reason`` is
    the Simplified Chinese sentence shown to the admin who uploaded the file; ``detail``
    holds technical context (e.g. the last lines ffmpeg printed) for the job log.
    """

    def __init__(self, code: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.detail = detail
