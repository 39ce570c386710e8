"""Front-end libraries from npm, served straight out of node_modules (never copied into the repo).

Only the files named here are reachable; `npm install` (run by the Makefile) puts them there.
"""

from __future__ import annotations

import os

from flask import Blueprint, abort, current_app

from dangxiao.access import PUBLIC
from dangxiao.assets import send_asset

bp = Blueprint("vendor", __name__)
ACCESS = {"file": PUBLIC}  # whitelisted front-end files only

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_MODULES = os.path.join(ROOT, "node_modules")

#: URL name → path under node_modules.
FILES = {
    "hls.min.js": "hls.js/dist/hls.min.js",
    # No subtitles, alternate audio or DRM: what lessons need, at 390 KB instead of 620 KB.
    "hls.light.min.js": "hls.js/dist/hls.light.min.js",
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
    "uPlot.iife.min.js": "uplot/dist/uPlot.iife.min.js",  # charts of the branch report (~50 KB)
    "uPlot.min.css": "uplot/dist/uPlot.min.css",
}


@bp.get("/static/vendor/<name>")
def file(name: str):
    relative = FILES.get(name)
    if relative is None:
        abort(404)
    path = os.path.join(NODE_MODULES, relative)
    if not os.path.isfile(path):
        current_app.logger.warning("%s is missing: run `npm install` (make npm-deps)", relative)
        abort(404)
    mimetype = "text/css" if name.endswith(".css") else "text/javascript"
    response = send_asset(path, mimetype=mimetype, max_age=86400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
