"""Station keys never reach the request logs, whichever way the box sent them."""

from __future__ import annotations

import logging

from dangxiao.tv.logs import redact


def test_werkzeug_request_lines_lose_the_key(app, caplog):
    """The dev server's own logging call (werkzeug._internal._log), as serving.py makes it."""
    from werkzeug._internal import _log

    key = "s3cr3t-KEY_with-dash"
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        _log("info", '127.0.0.1 - - [23/Nov/2026 09:00:00] "%s" %s %s', f"GET /tv/k/{key}/tv/ HTTP/1.1", 200, "-")
        _log("info", '"%s" %s %s', f"GET /api/tv/v1/catalog?page=2&KEY={key}&limit=5 HTTP/1.1", 200, "-")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert key not in text
    assert "GET /tv/k/***/tv/ HTTP/1.1" in text and "?page=2&KEY=***&limit=5" in text


def test_gunicorn_access_records_with_dict_args(app, caplog):
    """gunicorn logs its access format with a dict of atoms."""
    logger = logging.getLogger("gunicorn.access")
    with caplog.at_level(logging.INFO, logger="gunicorn.access"):
        logger.info(
            '%(h)s "%(r)s" %(s)s', {"h": "10.0.0.7", "r": "GET /tv/k/abc123/tv/playlist.m3u HTTP/1.0", "s": 200}
        )
    assert caplog.records[-1].getMessage() == '10.0.0.7 "GET /tv/k/***/tv/playlist.m3u HTTP/1.0" 200'


def test_redact_leaves_other_text_alone() -> None:
    assert redact("GET /school/courses?monkey=1 HTTP/1.1") == "GET /school/courses?monkey=1 HTTP/1.1"
    assert redact("/tv/k/a%2Fb/api.php/provide/vod/?ac=list&key=x") == "/tv/k/***/api.php/provide/vod/?ac=list&key=***"
