"""Static assets go out gzip-compressed to clients that accept it; pages never do."""

from __future__ import annotations

import gzip

import pytest

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def fetch(client, path, headers=None):
    """GET `path`, body read and the file closed (a file response left open is a ResourceWarning)."""
    reply = client.get(path, headers=headers or {})
    with reply:
        reply.get_data()
    return reply


@pytest.mark.parametrize("path", ["/static/js/live.js", "/static/css/site.css", "/static/vendor/socket.io.min.js"])
def test_text_assets_are_compressed_with_their_own_etags(client, path):
    plain, packed = fetch(client, path), fetch(client, path, GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data) / 2
    assert "accept-encoding" in packed.headers["Vary"].lower() and "accept-encoding" in plain.headers["Vary"].lower()
    assert packed.headers["Content-Type"] == plain.headers["Content-Type"]
    assert packed.headers["ETag"] != plain.headers["ETag"]

    again = {**GZIP, "If-None-Match": packed.headers["ETag"]}
    assert fetch(client, path, again).status_code == 304
    assert fetch(client, path, {"If-None-Match": plain.headers["ETag"]}).status_code == 304
    crossed = fetch(client, path, {**GZIP, "If-None-Match": plain.headers["ETag"]})  # the other encoding
    assert crossed.status_code == 200 and crossed.headers["Content-Encoding"] == "gzip"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/static/favicon.ico", GZIP, 200),  # binary
        ("/static/favicon.svg", GZIP, 200),  # under 1 KB: not worth it
        ("/static/js/live.js", {"Accept-Encoding": "gzip;q=0, identity"}, 200),
        ("/static/js/live.js", {"Accept-Encoding": "identity"}, 200),
        ("/static/js/live.js", {**GZIP, "Range": "bytes=0-9"}, 206),
        ("/", GZIP, 200),  # pages carry the CSRF token next to reflected text (BREACH): never compressed
    ],
)
def test_left_as_they_are(client, path, headers, status):
    reply = fetch(client, path, headers)
    assert reply.status_code == status
    assert "Content-Encoding" not in reply.headers
    if status == 206:
        assert reply.data == b"// live.js"


def test_missing_and_escaping_paths_are_404(client):
    for path in ("/static/nope.js", "/static/../wsgi.py", "/static/%2e%2e/wsgi.py", "/static/js/../../wsgi.py"):
        assert fetch(client, path, GZIP).status_code == 404, path


def test_a_changed_file_is_compressed_again(app, tmp_path):
    from dangxiao.assets import send_asset

    target = tmp_path / "app.js"
    for text in ("var a = 1;\n" * 200, "var b = 22;\n" * 300):
        target.write_text(text)
        with app.test_request_context(headers=GZIP):
            reply = send_asset(str(target))
            reply.direct_passthrough = False
            assert gzip.decompress(reply.get_data()).decode() == text
