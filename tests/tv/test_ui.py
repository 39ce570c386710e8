"""The 10-foot pages at /tv/: what a station sees, how its links keep the key, and tv.js being ES5.

Pages are asserted on their rendered HTML and the stored rows behind them; the browser test in
tests/e2e/test_tv_journey.py drives the same pages with key presses.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from dangxiao.extensions import db
from dangxiao.transactions import atomic

TV_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "tv.js"


@pytest.fixture
def station(app, create_branch, make_device, make_course):
    """A village branch's station, one course assigned to the branch (必修), one open course and
    another branch's member-only course."""
    from dangxiao.school.models import CourseAssignment

    town = create_branch("城关镇党委", kind="committee")
    village = create_branch("东村党支部", parent=town)
    other = create_branch("西村党支部", parent=town)
    elective = make_course(durations=(600.0,), title="乡村振兴讲座", category="理论学习")
    required = make_course(durations=(1800.0, 2700.0), title="党章学习", open_to_all=False, category="党章党规")
    private = make_course(durations=(600.0,), title="西村内部课程", open_to_all=False, category="理论学习")
    with app.app_context(), atomic():
        db.session.add(
            CourseAssignment(course_id=required.id, branch_id=village, year=2026, deadline=date(2026, 12, 31))
        )
        db.session.add(CourseAssignment(course_id=private.id, branch_id=other, year=2026, deadline=date(2026, 12, 31)))
    device_id, key = make_device(village, name="东村接收站")
    return {"device_id": device_id, "key": key, "elective": elective, "required": required, "private": private}


def _html(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_start_page_rows_required_first_and_links_keep_the_key(client, station):
    key, required, elective = station["key"], station["required"], station["elective"]
    html = _html(client.get(f"/tv/k/{key}/tv/"))
    assert '<html lang="zh-CN">' in html and "site-header" not in html
    assert "东村接收站" in html and "西村内部课程" not in html
    # The row holding the branch's required course comes first, with the badge.
    assert html.index("党章党规") < html.index("理论学习")
    assert re.search(r'<span class="tv-badge">必修</span>党章学习', html)
    # Under the prefix every link, cover and asset keeps it (relative to the box's base URL).
    assert f'href="/tv/k/{key}/tv/course/{required.id}"' in html
    assert f'href="/tv/k/{key}/tv/course/{elective.id}"' in html
    assert f'src="/tv/k/{key}/tv/cover/{required.id}.jpg"' in html
    assert f'src="/tv/k/{key}/static/js/tv.js"' in html
    assert "data-key=" not in html  # the key is already in every URL

    # By header or ?key=: the same page, links to the prefixed absolute URL (a <video> sends no header).
    for response in (client.get("/tv/", headers={"X-Device-Key": key}), client.get(f"/tv/?key={key}")):
        html = _html(response)
        assert f'href="http://localhost/tv/k/{key}/tv/course/{required.id}"' in html
        assert f'data-key="{key}"' in html


def test_course_page_lists_lessons_and_marks_where_the_station_left_off(app, client, station):
    from dangxiao.tv.models import Play

    key, course = station["key"], station["required"]
    html = _html(client.get(f"/tv/k/{key}/tv/course/{course.id}"))
    assert "第1讲" in html and "第2讲" in html and "30:00" in html and "45:00" in html
    assert "继续" not in html and "data-nav-start" not in html

    with app.app_context(), atomic():
        db.session.add(
            Play(
                token="t" * 43,
                device_id=station["device_id"],
                lesson_id=course.lesson_ids[1],
                seconds=700,
                position=754,
            )
        )
    html = _html(client.get(f"/tv/k/{key}/tv/course/{course.id}"))
    resumed = re.search(r'<a class="tv-lesson tv-resumed" href="([^"]+)" data-nav-item data-nav-start', html)
    assert resumed and resumed.group(1) == f"/tv/k/{key}/tv/lesson/{course.lesson_ids[1]}"
    assert "继续 12:34" in html

    # The player page starts there and reports to the play API under the same prefix.
    html = _html(client.get(resumed.group(1)))
    assert 'data-resume="754.0"' in html
    assert f'data-mp4="/tv/k/{key}/tv/play/{course.lesson_ids[1]}/video.mp4"' in html
    assert f'data-hls="/tv/k/{key}/tv/play/{course.lesson_ids[1]}/master.m3u8"' in html
    assert f'data-plays-url="/tv/k/{key}/api/tv/v1/plays"' in html
    assert f'data-report-base="/tv/k/{key}/api/tv/v1/plays/"' in html
    assert f'data-back="/tv/k/{key}/tv/course/{course.id}"' in html
    assert "data-next=" not in html  # the last lesson


def test_lesson_page_by_header_sends_the_key_with_reports(client, station):
    key, course = station["key"], station["required"]
    html = _html(client.get(f"/tv/lesson/{course.lesson_ids[0]}", headers={"X-Device-Key": key}))
    assert f'data-key="{key}"' in html
    assert f'data-plays-url="http://localhost/tv/k/{key}/api/tv/v1/plays"' in html
    assert f'data-next="http://localhost/tv/k/{key}/tv/lesson/{course.lesson_ids[1]}"' in html
    assert 'data-resume="0.0"' in html


def test_other_branch_course_and_missing_keys_are_refused(client, station, make_device, create_branch):
    key, private = station["key"], station["private"]
    for path in (f"/tv/course/{private.id}", f"/tv/lesson/{private.lesson_ids[0]}", "/tv/course/999999"):
        response = client.get(f"/tv/k/{key}{path}")
        assert response.status_code == 404
        page = response.get_data(as_text=True)
        assert "西村内部课程" not in page and "tv.css" in page  # the station's own error page, with a way back

    _, revoked = make_device(create_branch("北村党支部"), revoked=True)
    for path in ("/tv/", f"/tv/k/{revoked}/tv/", f"/tv/?key={revoked}", "/tv/k/not-a-key!/tv/"):
        response = client.get(path)  # what a box's browser sends: no Accept preference
        assert response.status_code == 401, path
        assert response.get_json()["error"]["code"] == "device_key_required"
    response = client.get(f"/tv/course/{station['required'].id}")
    assert response.status_code == 401 and "党章学习" not in response.get_data(as_text=True)


# ---- tv.js is ES5: old set-top box browsers and no build step --------------------------------

ES6_TOKENS = [
    (r"`", "template literal"),
    (r"=>", "arrow function"),
    (r"\.\.\.", "spread/rest"),
    (r"\b(let|const|class|async|await|yield|import|export|of)\b", "ES2015+ keyword"),
    (r"\b(fetch|Promise|Map|Set|WeakMap|Symbol|Proxy|Reflect)\b", "ES2015+ global"),
    (r"\.(startsWith|endsWith|includes|find|findIndex|closest|classList|dataset|assign|from|repeat)\b", "newer API"),
    (r"function\s*\*", "generator"),
]


def _code_only(source: str) -> str:
    """tv.js without comments and string contents (it has no regular expression literals)."""
    out, i, n = [], 0, len(source)
    while i < n:
        two = source[i : i + 2]
        if two == "//":
            i = source.find("\n", i)
            i = n if i < 0 else i
        elif two == "/*":
            i = source.index("*/", i) + 2
        elif source[i] in "'\"":
            quote, i = source[i], i + 1
            while source[i] != quote:
                i += 2 if source[i] == "\\" else 1
            out.append('""')
            i += 1
        else:
            out.append(source[i])
            i += 1
    return "".join(out)


def test_tv_js_uses_no_syntax_or_api_newer_than_es5():
    code = _code_only(TV_JS.read_text(encoding="utf-8"))
    found = [(label, m.group(0)) for pattern, label in ES6_TOKENS for m in re.finditer(pattern, code)]
    assert found == []


def test_tv_js_parses_with_an_es5_parser():
    """pyjsparser implements ES5.1 (it rejects arrows, classes, template strings, for-of, spread);
    the walk also refuses what it lets through: let/const, default parameters, method shorthand."""
    pyjsparser = pytest.importorskip("pyjsparser")
    tree = pyjsparser.parse(TV_JS.read_text(encoding="utf-8"))
    problems = []

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "VariableDeclaration" and node.get("kind") != "var":
            problems.append(node.get("kind"))
        if kind in ("FunctionDeclaration", "FunctionExpression"):
            if node.get("defaults") and any(node["defaults"]):
                problems.append("default parameter")
            if any(param.get("type") != "Identifier" for param in node.get("params", [])):
                problems.append("pattern parameter")
        if kind == "Property" and (node.get("method") or node.get("shorthand") or node.get("computed")):
            problems.append("ES2015 property")
        for value in node.values():
            walk(value)

    walk(tree)
    assert problems == []
