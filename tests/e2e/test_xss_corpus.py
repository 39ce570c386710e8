"""The XSS corpus, rendered by dangxiao.markup, runs nothing in a real Chromium.

Every payload of ``xss_payloads.txt`` is rendered twice — ``markup.render`` (Markdown) and
``markup.clean_html`` (raw HTML straight into the sanitiser, where mutation XSS lives) —
and all of them go into one page served by the live server. To be a fair test that page
is served WITHOUT the site's CSP (a test-only route sends a CSP that allows inline script
and handlers), so the sanitiser is the only thing between a payload and execution.

A hit is recorded when anything calls alert/confirm/prompt/print/top.xss()/fetch (all
replaced by recorders before any page script runs), when a dialog opens anyway, when a
request goes to ``/xss-hit`` or off the site, or when the page navigates away. The page
is provoked: every element gets the usual events, every link is hovered and clicked with
the real mouse (http/mailto clicks are cancelled so the page stays; ``javascript:`` ones
are not), and Tab walks the focus. Then the DOM itself is audited: only allowlisted tags,
no ``on*`` attributes, no href/src outside http/https/mailto, every link with rel
``nofollow noopener``, images only from this site or an allowed host.

The control test serves a few payloads rendered by plain ``markdown.markdown`` (raw HTML
and ``javascript:`` links pass through) and checks that each detector does fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import markdown
import pytest
from flask import abort, make_response
from playwright.sync_api import Error as PlaywrightError

from dangxiao import access, markup

pytestmark = pytest.mark.e2e

PAYLOADS = Path(__file__).with_name("xss_payloads.txt")
IMAGE_HOSTS = ("img.example.org",)
# Sent instead of the site's CSP by the test route: everything inline is allowed.
NO_CSP = "default-src * data: blob: 'unsafe-inline' 'unsafe-eval'"

#: Replaces every sink a payload could call, in every frame, before any page script runs.
RECORDERS = """
(() => {
  const hits = [];
  Object.defineProperty(window, '__xss', {value: hits});
  const recorder = (name) => function (...args) {
    hits.push(name + '(' + args.map(String).join(',') + ')');
  };
  for (const name of ['alert', 'confirm', 'prompt', 'print']) window[name] = recorder(name);
  window.xss = recorder('xss');
  const realFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    hits.push('fetch(' + String(input) + ')');
    return realFetch(input, init);
  };
  // Keep the page: cancel clicks that would leave it, but let javascript: (and anything odd) run.
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[href]') : null;
    if (link && ['http:', 'https:', 'mailto:', 'ftp:', 'file:'].includes(link.protocol)) {
      event.preventDefault();
    }
  }, true);
})();
"""

#: Fire the events inline handlers listen for on every rendered element.
PROVOKE = """
() => {
  const names = ['mouseover', 'mouseenter', 'mousemove', 'mousedown', 'mouseup', 'click', 'dblclick',
    'contextmenu', 'auxclick', 'pointerover', 'pointerenter', 'pointerdown', 'pointerup', 'focus', 'focusin',
    'blur', 'focusout', 'keydown', 'keypress', 'keyup', 'input', 'change', 'toggle', 'scroll', 'wheel',
    'copy', 'cut', 'paste', 'dragstart', 'drop', 'animationstart', 'animationend', 'transitionend',
    'load', 'error', 'beforetoggle', 'select'];
  for (const el of document.querySelectorAll('.case, .case *')) {
    if (typeof el.focus === 'function') el.focus();
    for (const name of names) el.dispatchEvent(new Event(name, {bubbles: true, cancelable: true}));
  }
  for (const link of document.querySelectorAll('.case a')) link.click();
}
"""

#: Everything in the rendered cases that should not be there, with the case it is in.
AUDIT = """
([allowedTags, imageHosts]) => {
  const allowed = new Set(allowedTags);
  const protocols = new Set(['http:', 'https:', 'mailto:']);
  const forbidden = new Set(['style', 'srcdoc', 'srcset', 'action', 'formaction', 'data', 'background',
    'poster', 'xlink:href', 'id', 'name', 'form', 'target', 'ping']);
  const problems = [];
  for (const el of document.querySelectorAll('.case *')) {
    const where = el.closest('.case').id;
    const tag = el.localName;
    if (!allowed.has(tag) || el.namespaceURI !== 'http://www.w3.org/1999/xhtml') {
      problems.push(`${where}: <${el.nodeName}> element`);
    }
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on')) problems.push(`${where}: ${name}= handler on <${tag}>`);
      if (forbidden.has(name)) problems.push(`${where}: ${name}= on <${tag}>`);
    }
    for (const name of ['href', 'src']) {
      const value = el.getAttribute(name);
      if (value === null) continue;
      let url;
      try { url = new URL(value, document.baseURI); } catch (e) {
        problems.push(`${where}: unparsable ${name}=${value}`);
        continue;
      }
      if (!protocols.has(url.protocol)) problems.push(`${where}: ${name}=${value} on <${tag}>`);
      if (tag === 'img' && url.origin !== location.origin && !imageHosts.includes(url.hostname)) {
        problems.push(`${where}: off-site image ${value}`);
      }
    }
    if (tag === 'a' && el.getAttribute('rel') !== 'nofollow noopener') {
      problems.push(`${where}: <a> with rel=${el.getAttribute('rel')}`);
    }
  }
  return problems;
}
"""


def load_payloads() -> list[str]:
    """The corpus (see the file's header) plus two generated deep-nesting payloads."""
    lines = PAYLOADS.read_text(encoding="utf-8").split("\n")
    payloads = [line.replace("␤", "\n") for line in lines if line and not line.startswith(";;")]
    payloads.append(">" * 600 + " <img src=x onerror=alert(1)> [deep](javascript:alert(1))")
    payloads.append("<blockquote>" * 600 + '<img src=x onerror=alert(1)><a href="javascript:alert(1)">deep</a>')
    return payloads


def page_html(cases: list[tuple[str, str]]) -> str:
    body = "\n".join(f'<div class="case" id="{escape(key)}">{html}</div>' for key, html in cases)
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>XSS corpus</title></head>'
        f'<body><h1>XSS corpus</h1><section id="corpus">\n{body}\n</section></body></html>'
    )


@dataclass
class Findings:
    hits: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    navigated: str | None = None

    def __bool__(self) -> bool:
        return bool(self.hits or self.dialogs or self.requests or self.problems or self.navigated)


@pytest.fixture
def app(app):
    """The test app plus /__xss__/<name>, a page with no effective CSP (this test only)."""
    pages: dict[str, str] = {}

    def xss_page(name: str):
        if name not in pages:
            abort(404)
        response = make_response(pages[name])
        response.headers["Content-Security-Policy"] = NO_CSP
        return response

    app.add_url_rule("/__xss__/<name>", endpoint="xss_corpus_page", view_func=xss_page)
    access.add_rows(app, {"xss_corpus_page": access.PUBLIC})
    app.extensions["xss_pages"] = pages
    return app


@pytest.fixture
def probe(app, live_server, page):
    """probe(cases) -> Findings: serve the cases as one page, provoke it, audit it."""
    context = page.context
    context.add_init_script(RECORDERS)
    pages: dict[str, str] = app.extensions["xss_pages"]

    def run(name: str, cases: list[tuple[str, str]]) -> Findings:
        pages[name] = page_html(cases)
        url = f"{live_server}/__xss__/{name}"
        found = Findings()

        def on_route(route):
            target = route.request.url
            if target.startswith(live_server + "/"):
                if "/xss-hit" in target:
                    found.requests.append(target)
                route.continue_()
            else:
                found.requests.append(target)
                route.abort()

        tab = context.new_page()
        tab.route("**/*", on_route)
        tab.on("dialog", lambda dialog: (found.dialogs.append(f"{dialog.type}: {dialog.message}"), dialog.dismiss()))
        tab.goto(url, wait_until="load")
        tab.wait_for_timeout(300)
        try:
            tab.evaluate(PROVOKE)
            for link in tab.locator(".case a").all():
                try:
                    link.scroll_into_view_if_needed(timeout=1000)
                    link.hover(timeout=1000, force=True)
                    link.click(timeout=1000, force=True)
                except PlaywrightError:  # an empty or hidden link: PROVOKE has clicked it already
                    continue
            for _ in range(20):
                tab.keyboard.press("Tab")
        except PlaywrightError:  # the page navigated away under us: reported below
            pass
        tab.wait_for_timeout(500)

        if tab.url != url:
            found.navigated = tab.url
        else:
            found.problems += tab.evaluate(AUDIT, [sorted(markup.TAGS), list(IMAGE_HOSTS)])
        for frame in tab.frames:
            try:
                found.hits += frame.evaluate("() => Array.from(window.__xss || [])")
            except PlaywrightError:  # a frame that went away has nothing left to report
                pass
        found.requests = [r for r in found.requests if not any(f"//{host}/" in r for host in IMAGE_HOSTS)]
        tab.close()
        return found

    return run


def sanitised_cases(payloads: list[str]) -> list[tuple[str, str]]:
    cases = []
    for number, payload in enumerate(payloads, start=1):
        cases.append((f"case-{number}-markdown", markup.render(payload, image_hosts=IMAGE_HOSTS)))
        cases.append((f"case-{number}-html", markup.clean_html(payload, image_hosts=IMAGE_HOSTS)))
    return cases


def test_corpus_has_enough_payloads():
    assert len(load_payloads()) >= 60


def test_no_payload_of_the_corpus_runs_in_chromium(probe):
    payloads = load_payloads()
    cases = sanitised_cases(payloads)
    found = probe("corpus", cases)
    if found:
        # Name the culprits: probe each payload on its own page.
        culprits = []
        for number, payload in enumerate(payloads, start=1):
            alone = probe(f"case-{number}", sanitised_cases([payload]))
            if alone:
                culprits.append(f"#{number} {payload!r}: {alone}")
        pytest.fail("XSS corpus fired:\n" + repr(found) + "\n" + "\n".join(culprits), pytrace=False)


#: (payload, detector, what it must report) — rendered WITHOUT sanitising, to prove each detector works.
CONTROLS = [
    ("<script>top.xss()</script>", "hits", "xss()"),  # inline script really runs here (no CSP)
    ("<img src=x onerror=alert(1)>", "hits", "alert(1)"),
    ("<svg onload=confirm(1)>", "hits", "confirm(1)"),
    ("<details open ontoggle=print()>x</details>", "hits", "print()"),
    ("<img src=x onerror=\"fetch('/xss-hit')\">", "hits", "fetch(/xss-hit)"),
    ("[click me](javascript:prompt(1))", "hits", "prompt(1)"),  # only a click runs it
    ('<a href="#" onmouseover="top.xss(2)">hover me</a>', "hits", "xss(2)"),  # only a hover runs it
    ('<iframe srcdoc="<script>top.xss(3)</script>"></iframe>', "hits", "xss(3)"),
    ('<a href="vbscript:msgbox(1)">vb</a>', "problems", "href=vbscript:msgbox(1)"),  # inert in Chromium
    ('<b onclick="void 0">b</b>', "problems", "onclick= handler"),
    ("![pixel](https://evil.example/pixel.png)", "requests", "https://evil.example/pixel.png"),
    ('<img src="/xss-hit.png">', "requests", "/xss-hit.png"),
    ('<meta http-equiv="refresh" content="0;url=/xss-elsewhere">', "navigated", "/xss-elsewhere"),
]


def test_detector_fires_on_unsanitised_payloads(probe):
    missed = []
    for number, (payload, detector, expected) in enumerate(CONTROLS, start=1):
        found = probe(f"control-{number}", [(f"control-{number}", markdown.markdown(payload))])
        if expected not in str(getattr(found, detector)):
            missed.append(f"{payload!r}: {detector} should report {expected!r}, got {found}")
    assert not missed, "\n".join(missed)
