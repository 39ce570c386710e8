"""static/js/site.js in Chromium: dx.fetchJSON, data-confirm, relative times, dx.message.

The page is a real page of the live server (base.html loads site.js); a test-only blueprint
gives fetchJSON a CSRF-protected JSON endpoint, a domain error and a form target.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask import Blueprint, jsonify, request

from dangxiao import access
from dangxiao.errors import DomainError

pytestmark = pytest.mark.e2e

NETWORK_MESSAGE = "网络连接失败，请检查网络后重试。"
CST = timezone(timedelta(hours=8))


@pytest.fixture
def hits(app) -> list[dict]:
    """Routes for these tests (added before the first request); returns what the form target got."""
    received: list[dict] = []
    bp = Blueprint("e2e_site_js", __name__)

    @bp.post("/api/e2e/echo")
    def echo():
        return jsonify(
            json=request.get_json(silent=True),
            csrf=request.headers.get("X-CSRFToken"),
            accept=request.headers.get("Accept"),
            content_type=request.mimetype,
        )

    @bp.post("/api/e2e/fail")
    def fail():
        raise DomainError("标题不能为空。", code="title_required")

    @bp.post("/e2e/submit")
    def submit():
        received.append(dict(request.form))
        return "<!doctype html><title>ok</title><p id=done>已提交</p>"

    access.register(app, bp, {"echo": access.PUBLIC, "fail": access.PUBLIC, "submit": access.PUBLIC})
    return received


def open_home(page, live_server: str, path: str = "/") -> None:
    page.goto(live_server + path)
    page.wait_for_function("() => window.dx && typeof window.dx.fetchJSON === 'function'")


def call(page, script: str):
    """Run an async expression in the page; a rejection comes back as {error: {...}}."""
    return page.evaluate(
        """async (script) => {
          try { return {value: await eval(script)}; }
          catch (e) { return {error: {name: e.name, message: e.message, code: e.code, status: e.status}}; }
        }""",
        script,
    )


def test_pages_load_site_js_and_the_icon_without_errors(live_server, page):
    """No 404 for the icon, no CSP violation or script error from site.js."""
    failed, errors = [], []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    for path in ("/", "/accounts/login"):
        open_home(page, live_server, path)
    icon = page.evaluate("() => fetch('/favicon.ico').then(r => [r.status, r.headers.get('content-type')])")
    assert icon == [200, "image/vnd.microsoft.icon"]
    assert failed == [] and errors == []


# --- dx.fetchJSON -----------------------------------------------------------------------------


def test_fetch_json_sends_the_csrf_token_and_a_json_body(live_server, page, hits):
    open_home(page, live_server)
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    result = call(page, "dx.fetchJSON('/api/e2e/echo', {method: 'POST', body: {title: '学习心得'}})")
    # Flask-WTF checked the header: without a valid token the view would not have run.
    assert result["value"] == {
        "json": {"title": "学习心得"},
        "csrf": token,
        "accept": "application/json",
        "content_type": "application/json",
    }


def test_fetch_json_without_a_valid_token_is_refused_in_chinese(live_server, page, hits):
    open_home(page, live_server)
    result = call(page, "dx.fetchJSON('/api/e2e/echo', {method: 'POST', headers: {'X-CSRFToken': 'forged'}, body: {}})")
    assert result["error"] == {
        "name": "Error",
        "code": "csrf_failed",
        "status": 400,
        "message": "页面已过期或请求来源无法验证，请刷新页面后重试。",
    }


def test_fetch_json_surfaces_the_chinese_message_of_a_json_error(live_server, page, hits):
    open_home(page, live_server)
    result = call(page, "dx.fetchJSON('/api/e2e/fail', {method: 'POST', body: {title: ''}})")
    assert result["error"] == {"name": "Error", "code": "title_required", "status": 400, "message": "标题不能为空。"}
    missing = call(page, "dx.fetchJSON('/api/no-such-thing')")
    assert missing["error"]["code"] == "not_found"
    assert missing["error"]["status"] == 404
    assert missing["error"]["message"] == "您访问的页面不存在或已被删除。"


def test_fetch_json_turns_network_failures_and_html_error_pages_into_chinese(live_server, page, hits):
    open_home(page, live_server)
    page.route("**/api/e2e/down", lambda route: route.abort("connectionrefused"))
    page.route(
        "**/api/e2e/gateway",
        lambda route: route.fulfill(
            status=502, content_type="text/html", body="<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"
        ),
    )
    page.route("**/api/e2e/garbled", lambda route: route.fulfill(status=200, content_type="text/html", body="<p>hi"))

    down = call(page, "dx.fetchJSON('/api/e2e/down')")
    assert down["error"] == {"name": "Error", "code": "network", "status": 0, "message": NETWORK_MESSAGE}
    gateway = call(page, "dx.fetchJSON('/api/e2e/gateway', {method: 'POST', body: {}})")
    assert gateway["error"] == {
        "name": "Error",
        "code": "http_502",
        "status": 502,
        "message": "服务器暂时无法访问，请稍后再试。",
    }
    garbled = call(page, "dx.fetchJSON('/api/e2e/garbled')")
    assert garbled["error"]["code"] == "bad_response"
    assert "无法识别" in garbled["error"]["message"]


def test_message_shows_a_status_line(live_server, page):
    open_home(page, live_server)
    page.evaluate("() => dx.message('已保存。', 'success')")
    status = page.locator("#dx-message")
    assert status.get_attribute("role") == "status"
    assert status.inner_text() == "已保存。"
    assert "flash-success" in status.get_attribute("class")
    page.evaluate("() => dx.message('保存失败，请重试。', 'error')")
    assert page.locator("[role=status]#dx-message").inner_text() == "保存失败，请重试。"
    assert page.locator("#dx-message").count() == 1
    page.evaluate("() => dx.message('')")
    assert not status.is_visible()


# --- data-confirm -----------------------------------------------------------------------------

FORMS = """() => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const hidden = '<input type="hidden" name="csrf_token" value="' + token + '">';
  document.querySelector('main').insertAdjacentHTML('beforeend',
    '<form id="f1" method="post" action="/e2e/submit" data-confirm="确定删除这篇帖子吗？">' + hidden +
    '<input type="hidden" name="which" value="form"><button type="submit">删除</button></form>' +
    '<form id="f2" method="post" action="/e2e/submit">' + hidden +
    '<input type="hidden" name="which" value="button"><button type="submit" data-confirm="确定退出该支部吗？">退出</button></form>' +
    '<form id="f3" method="post" action="/e2e/submit" data-confirm="表单自己的问题">' + hidden +
    '<input type="hidden" name="which" value="both"><button type="submit" data-confirm="按钮的问题">两者</button></form>');
}"""


def dialogs(page, accept: bool) -> list[str]:
    asked: list[str] = []

    def answer(dialog):
        asked.append(f"{dialog.type}:{dialog.message}")
        dialog.accept() if accept else dialog.dismiss()

    page.on("dialog", answer)
    return asked


@pytest.mark.parametrize(
    "form_id, which, question",
    [
        ("f1", "form", "确定删除这篇帖子吗？"),
        ("f2", "button", "确定退出该支部吗？"),
    ],
    ids=["form", "button"],
)
def test_confirm_cancelled_means_nothing_is_submitted(live_server, page, hits, form_id, which, question):
    open_home(page, live_server)
    page.evaluate(FORMS)
    asked = dialogs(page, accept=False)
    page.click(f"#{form_id} button")
    page.wait_for_timeout(500)  # long enough for a submission to reach the server
    assert asked == [f"confirm:{question}"]
    assert hits == []
    assert page.url == live_server + "/"


@pytest.mark.parametrize(
    "form_id, which, question",
    [
        ("f1", "form", "确定删除这篇帖子吗？"),
        ("f2", "button", "确定退出该支部吗？"),
        ("f3", "both", "按钮的问题"),  # the button's question covers its form: asked once, not twice
    ],
    ids=["form", "button", "both"],
)
def test_confirm_accepted_submits_the_form(live_server, page, hits, form_id, which, question):
    open_home(page, live_server)
    page.evaluate(FORMS)
    asked = dialogs(page, accept=True)
    with page.expect_navigation():
        page.click(f"#{form_id} button")
    assert page.locator("#done").inner_text() == "已提交"
    assert asked == [f"confirm:{question}"]
    assert [hit["which"] for hit in hits] == [which]


@pytest.mark.parametrize("accept", [False, True], ids=["cancel", "accept"])
def test_confirm_on_a_link(live_server, page, accept):
    open_home(page, live_server)
    page.evaluate("""() => document.querySelector('main').insertAdjacentHTML('beforeend',
      '<a id="leave" href="/accounts/login" data-confirm="离开本页吗？">登录</a>')""")
    asked = dialogs(page, accept=accept)
    page.click("#leave")
    if accept:
        page.wait_for_url(live_server + "/accounts/login")
    else:
        page.wait_for_timeout(500)
        assert page.url == live_server + "/"
    assert asked == ["confirm:离开本页吗？"]


# --- relative times ---------------------------------------------------------------------------

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=CST)  # 04:00 UTC: the same calendar days in UTC and CST
TIMES = {
    "just-now": (NOW - timedelta(seconds=20), "刚刚"),
    "minutes": (NOW - timedelta(minutes=5), "5 分钟前"),
    "hours": (NOW - timedelta(hours=3, minutes=10), "3 小时前"),
    "yesterday": (NOW - timedelta(hours=26), "昨天"),
    "days": (NOW - timedelta(days=3), "3 天前"),
    "old": (NOW - timedelta(days=8), None),  # None: keeps the server-rendered absolute text
    "future": (NOW + timedelta(days=1), None),
}


def test_relative_times_render_and_refresh_every_minute(live_server, page):
    page.clock.install(time=NOW)
    open_home(page, live_server)
    html = "".join(
        f'<time id="t-{key}" datetime="{when.isoformat()}" data-relative>{when:%Y-%m-%d %H:%M}</time>'
        for key, (when, _) in TIMES.items()
    )
    page.evaluate(
        "html => { document.querySelector('main').insertAdjacentHTML('beforeend', html); dx.refreshTimes(); }", html
    )
    for key, (when, expected) in TIMES.items():
        node = page.locator(f"#t-{key}")
        absolute = f"{when:%Y-%m-%d %H:%M}"
        assert node.inner_text() == (expected or absolute), key
        assert node.get_attribute("title") == absolute, key

    page.clock.run_for(5 * 60 * 1000)  # the page refreshes the texts by itself, once a minute
    assert page.locator("#t-just-now").inner_text() == "5 分钟前"
    assert page.locator("#t-minutes").inner_text() == "10 分钟前"
    assert page.locator("#t-old").get_attribute("title") == f"{TIMES['old'][0]:%Y-%m-%d %H:%M}"
