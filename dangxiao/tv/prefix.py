"""The ``/tv/k/<key>/…`` path prefix: a station's key in front of any feed or page.

Many box apps take one base URL and append their own paths and query strings, so neither a
header nor ``?key=`` survives. The middleware moves ``/tv/k/<key>`` from PATH_INFO into
SCRIPT_NAME, the way a WSGI app mounted under a prefix sees it: routing is unchanged (the
url_map has no key routes, so the access table needs no extra rows) and every ``url_for``
in that request keeps the prefix, so links on the 10-foot pages and the media URLs in feeds
carry the key without any code knowing about it. The key itself goes to
``environ["dangxiao.device_key"]`` for the device loader.

Under the prefix only device, public and grant endpoints answer; a member or admin page
reached through it is a 404 (boxes have no session, and a key in the path must not become a
second way into the site).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import abort, request

from dangxiao import access

ENVIRON_KEY = "dangxiao.device_key"
PREFIX = "/tv/k/"
ALLOWED_RULES = frozenset({access.DEVICE, access.PUBLIC, access.GRANT})


class KeyPrefixMiddleware:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or ""
        if path.startswith(PREFIX):
            key, slash, rest = path[len(PREFIX) :].partition("/")
            if key:
                environ[ENVIRON_KEY] = key
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + PREFIX + quote(key, safe="")
                environ["PATH_INFO"] = slash + rest if slash else "/"
        return self.wsgi_app(environ, start_response)


def prefixed_key() -> str | None:
    """The key this request carried in its path prefix, if any."""
    return request.environ.get(ENVIRON_KEY)


def guard() -> None:
    """before_request: only device, public and grant endpoints answer under the prefix."""
    if prefixed_key() is None or request.endpoint is None:
        return
    if access.table().get(request.endpoint) not in ALLOWED_RULES:
        abort(404)
