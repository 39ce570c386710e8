"""Walk every route in url_map with hostile ids, bodies, query strings and headers: never a 500.

Later packages are held to this by construction: a new route is walked the moment it
is registered. A response is acceptable when it is anything but a server error; for
`/api/` paths a 4xx must also carry the JSON error shape.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import AuthActions

HUGE_IDS = [
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "99999999999999999999999999",
    "0",
]
ODD_STRINGS = ["%00", "..%2F..%2Fetc%2Fpasswd", "%E2%80%AE", "a" * 300, "v1%0d%0aX:1"]
JSON_BODIES = [
    [1],
    "abc",
    None,
    1e308,
    {"display_name": 123, "title": 123, "filename": 5, "size": "12"},
    {"size": 10**40, "filename": "a.mp4"},
    {"size": -1, "filename": "a.mp4"},
    {"a": {"b": [None]}},
]
FORM_BODIES = [
    {"x": "\x00"},
    {
        "status": "[]",
        "role": "king",
        "decision": "maybe",
        "branch_id": "1e9",
        "scope_branch_id": "99999999999999999999",
        "parent_id": "-5",
        "kind": "\u202e",
    },
]
ODD_HEADERS = [
    {"Upload-Offset": "²", "Content-Type": "application/octet-stream"},
    {"Upload-Offset": "99999999999999999999999999", "Content-Type": "application/octet-stream"},
    {"Upload-Offset": "-1", "Content-Type": "application/octet-stream"},
    {"Range": "bytes=abc"},
    {"Range": "bytes=0-1,5-9"},
    {"Range": "bytes=99999999999999999999999-"},
    {"If-None-Match": "\x00"},
    {"Accept": "application/json"},
]
ODD_QUERIES = [
    "branch_id=9223372036854775808",
    "branch_id=-1",
    "branch_id=%C2%B2",
    "status=%00",
    "q=%00%E2%80%AE",
    "next=//evil.example",
    "page=99999999999999999999",
    "parent_id=1e999",
]


def _urls(rule) -> list[str]:
    """Concrete URLs for a rule: every <int:> with each huge id, other parts with odd strings."""
    urls = []
    for value in HUGE_IDS + ["1"]:
        urls.append(re.sub(r"<int:[^>]+>", value, re.sub(r"<(?:(?:string|path):)?[^:<>]+>", "x", rule.rule)))
    if re.search(r"<(?:(?:string|path):)?[^:<>]+>", rule.rule):
        for odd in ODD_STRINGS:
            urls.append(re.sub(r"<int:[^>]+>", "1", re.sub(r"<(?:(?:string|path):)?[^:<>]+>", odd, rule.rule)))
    return sorted(set(urls))


def _check(response, method: str, url: str, what: str) -> None:
    with response:  # file responses hold their file open until closed
        assert response.status_code < 500, f"{method} {url} ({what}) → {response.status_code}"
        if url.startswith("/api/") and 400 <= response.status_code < 500 and method != "HEAD":
            body = response.get_json(silent=True)
            assert body and "error" in body and "code" in body["error"], (
                f"{method} {url} ({what}): {response.data[:200]}"
            )


def _walk(app, client, token: str | None) -> int:
    sent = 0
    headers_csrf = {"X-CSRFToken": token} if token else {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = sorted(rule.methods - {"OPTIONS"})
        urls = _urls(rule)
        # Odd queries and headers go with one ordinary URL (id 1): each hostile part is tried on its
        # own, not in every combination with every hostile id (which made the walk five times longer
        # and found nothing more).
        plain = next((u for u in urls if re.sub(r"<int:[^>]+>", "1", rule.rule) == u), urls[0])
        for url in urls:
            for method in methods:
                if method in ("GET", "HEAD"):
                    queries = ["", *ODD_QUERIES] if url == plain and method == "GET" else [""]
                    for query in queries:
                        target = f"{url}?{query}" if query else url
                        _check(client.open(target, method=method), method, target, "query")
                        sent += 1
                    for headers in ODD_HEADERS if url == plain else []:
                        _check(client.open(url, method=method, headers=headers), method, url, f"headers {headers}")
                        sent += 1
                    continue
                for body in JSON_BODIES if url == plain else JSON_BODIES[:1]:
                    response = client.open(url, method=method, json=body, headers=headers_csrf, csrf=False)
                    _check(response, method, url, f"json {body!r}")
                    sent += 1
                for form in FORM_BODIES if url == plain else FORM_BODIES[:1]:
                    data = dict(form, csrf_token=token) if token else form
                    _check(client.open(url, method=method, data=data, csrf=False), method, url, f"form {form!r}")
                    sent += 1
                for headers in ODD_HEADERS if url == plain else []:
                    response = client.open(
                        url, method=method, data=b"\x00\xff" * 8, headers={**headers, **headers_csrf}, csrf=False
                    )
                    _check(response, method, url, f"bytes + headers {headers}")
                    sent += 1
    return sent


def test_anonymous_visitor_never_gets_a_500(app, client):
    app.logger.disabled = True
    assert _walk(app, client, None) > 200


@pytest.mark.parametrize("role", ["admin", "member"])
def test_logged_in_user_never_gets_a_500(app, client, create_user, role):
    app.logger.disabled = True
    create_user("walker", roles=[role])
    AuthActions(client).login("walker")
    assert _walk(app, client, client.csrf_token()) > 200
