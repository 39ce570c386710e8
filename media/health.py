"""/healthz checks for the media side: the job queue and the media folder."""

from __future__ import annotations

import os
import shutil

from flask import current_app

from dangxiao.extensions import db
from media import jobs


def queue_status() -> dict:
    """The queue backend answers, and how many jobs wait, run, or look stuck."""
    huey = current_app.extensions["huey"]
    backend = type(huey).__name__
    try:
        pending = huey.pending_count()
    except Exception as exc:  # noqa: BLE001 — health checks report, they do not raise
        return {"ok": False, "backend": backend, "error": type(exc).__name__}
    status: dict = {"ok": True, "backend": backend, "pending": pending}
    try:
        status["jobs"] = jobs.counts()
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        status["jobs_error"] = type(exc).__name__
    return status


def media_status() -> dict:
    """MEDIA_ROOT exists (or can be made) and is writable; free space for the next upload."""
    root = current_app.config["MEDIA_ROOT"]
    try:
        os.makedirs(root, exist_ok=True)
        writable = os.access(root, os.W_OK)
        free = shutil.disk_usage(root).free
    except OSError as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": writable, "writable": writable, "free_bytes": free}
