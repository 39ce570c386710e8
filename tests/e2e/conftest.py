"""Browser journeys: a real server in a thread and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from tests.support.binaries import require
from tests.support.postgres import free_port

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    """Browser journeys run against SQLite only; the database layer is covered on both elsewhere."""
    return request.param


def closing(app):
    """A client that drops a connection mid-file (a browser leaving a page, ffmpeg seeking) makes
    werkzeug's dev server give up on the response without calling the body's close(), leaving the
    file open (a ResourceWarning, an error under this suite). Close the body however iteration ends."""

    def wrapped(environ, start_response):
        body = app(environ, start_response)
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()

    return wrapped


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Serve `app` on a free loopback port for the duration of one test; yields the base URL."""
    port = free_port()
    server = make_server("127.0.0.1", port, closing(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return require("chromium")


@pytest.fixture(scope="session")
def browser(chromium_path, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
