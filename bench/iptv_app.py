"""The WSGI app bench/iptv.py serves with gunicorn: the real app plus a hello-world route.

``/bench/hello`` (PUBLIC) is the yardstick: the same process, middleware, access check and
session handling as every route, and no work of its own. ``/bench/tv-probe`` (DEVICE) is the
station catalogue through ``feedcache.serve`` as a small JSON body, for measuring the core
when the JSON API is not there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Blueprint  # noqa: E402

from dangxiao import access, create_app  # noqa: E402
from dangxiao.tv import catalog, changes, feedcache  # noqa: E402

app = create_app()
bp = Blueprint("bench", __name__)


@bp.get("/bench/hello")
def hello():
    return "hello"


@bp.get("/bench/tv-probe")
def tv_probe():
    device = access.current_device()
    version, changed_at = changes.current_version()

    def build() -> tuple[bytes, str]:
        seen = catalog.catalog_for(device, (version, changed_at))
        page = catalog.paginate(list(seen.courses), 1, 20)
        body = [{"id": c.id, "title": c.title, "lessons": [lesson.id for lesson in c.lessons]} for c in page.items]
        return json.dumps({"version": version, "courses": body}).encode(), "application/json"

    return feedcache.serve("bench", (), build, device=device, version=version, changed_at=changed_at)


access.register(app, bp, {"hello": access.PUBLIC, "tv_probe": access.DEVICE})
