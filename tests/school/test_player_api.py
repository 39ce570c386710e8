"""The player API through HTTP: the contract's shapes, bad bodies, refusals and the rate limit."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

API = "/api/school"


def _rewind(app, token: str, seconds: float) -> None:
    """Pretend the session's last report was `seconds` ago (the wall clock the budget reads)."""
    from dangxiao.db_types import utcnow
    from dangxiao.extensions import db
    from dangxiao.school.models import WatchSession
    from dangxiao.transactions import atomic

    with app.app_context(), atomic():
        db.session.execute(
            update(WatchSession)
            .where(WatchSession.token == token)
            .values(last_report_at=utcnow() - timedelta(seconds=seconds))
        )


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["message"] and (code is None or error["code"] == code), error
    return error


def test_contract_shapes(app, client, auth, make_course, create_user):
    shown = make_course(durations=(600.0, 1200.0), required=True, title="必修课")
    make_course(open_to_all=False, title="别处的课")
    make_course(published=False, title="草稿课")
    create_user("xueyuan")
    auth.login("xueyuan")

    courses = client.get(f"{API}/courses")
    assert courses.status_code == 200
    listed = {c["title"]: c for c in courses.get_json()}
    assert set(listed) == {"必修课"}
    assert listed["必修课"] == {
        "id": shown.id,
        "title": "必修课",
        "category": "理论学习",
        "required": True,
        "credit_hours": 0.0,
        "lessons": [
            {"id": shown.lesson_ids[0], "title": "第1讲", "duration": 600.0},
            {"id": shown.lesson_ids[1], "title": "第2讲", "duration": 1200.0},
        ],
    }

    lesson = shown.lesson_ids[0]
    assert client.get(f"{API}/lessons/{lesson}/progress").get_json() == {
        "duration": 600.0,
        "played": 0.0,
        "complete": False,
    }
    started = client.post(f"{API}/lessons/{lesson}/watch")
    assert started.status_code == 201
    body = started.get_json()
    token = body.pop("session")
    assert isinstance(token, str) and len(token) >= 32
    assert body == {"duration": 600.0, "played": 0.0, "complete": False, "resume_at": 0.0}

    # a report right away earns what the wall clock allows (nearly nothing)
    quick = client.post(f"{API}/watch/{token}", json={"intervals": [[0, 600]], "rate": 1, "position": 600})
    assert quick.status_code == 200 and quick.get_json()["counted"] < 2 and not quick.get_json()["complete"]
    # after 5 minutes of wall clock the whole lesson is credited and complete
    _rewind(app, token, 300)
    done = client.post(f"{API}/watch/{token}", json={"intervals": [[0, 300], [300, 600]], "rate": 2, "position": 321})
    assert done.status_code == 200
    assert done.get_json()["played"] == 600 and done.get_json()["complete"] is True
    assert 598 < done.get_json()["counted"] <= 600
    assert client.get(f"{API}/lessons/{lesson}/progress").get_json() == {
        "duration": 600.0,
        "played": 600.0,
        "complete": True,
    }
    # complete → the next start resumes at 0; the second lesson resumes where it was left
    assert client.post(f"{API}/lessons/{lesson}/watch").get_json()["resume_at"] == 0.0
    second = client.post(f"{API}/lessons/{shown.lesson_ids[1]}/watch").get_json()["session"]
    _rewind(app, second, 60)
    client.post(f"{API}/watch/{second}", json={"intervals": [[0, 100]], "rate": 1.5, "position": 100})
    assert client.post(f"{API}/lessons/{shown.lesson_ids[1]}/watch").get_json()["resume_at"] == 100.0


def test_lesson_page_carries_the_player(client, auth, make_course, create_user):
    course = make_course(durations=(600.0,), attention_minutes=20)
    create_user("xueyuan")
    auth.login("xueyuan")
    page = client.get(f"/school/lessons/{course.lesson_ids[0]}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for needle in (
        'id="lesson-player"',
        'data-hls="/media/',
        f'data-lesson-id="{course.lesson_ids[0]}"',
        'data-attention-minutes="20"',
        f'data-watch-url="{API}/lessons/{course.lesson_ids[0]}/watch"',
        f'data-report-base="{API}/watch/"',
        '<progress id="lesson-progress"',
        'role="dialog"',
        "仍在学习吗？",
        'aria-pressed="true"',
        'data-hls-script="/static/vendor/hls.light.min.js"',
        "js/player.js",
        "js/watch.js",
    ):
        assert needle in html, needle
    assert html.index("js/player.js") < html.index("js/watch.js")


def test_bad_bodies_refused(app, client, auth, make_course, create_user):
    course = make_course(durations=(600.0,))
    create_user("xueyuan")
    auth.login("xueyuan")
    token = client.post(f"{API}/lessons/{course.lesson_ids[0]}/watch").get_json()["session"]
    _rewind(app, token, 60)
    url = f"{API}/watch/{token}"
    cases = [
        ({"intervals": [[-5, 10]], "rate": 1, "position": 10}, "interval_invalid"),
        ({"intervals": [[30, 10]], "rate": 1, "position": 10}, "interval_invalid"),
        ({"intervals": [[590, 700]], "rate": 1, "position": 10}, "interval_invalid"),
        ({"intervals": [[0, 1e300]], "rate": 1, "position": 10}, "interval_invalid"),
        ({"intervals": [[0, "10"]], "rate": 1, "position": 10}, "interval_invalid"),
        ({"intervals": [[0, 10, 20]], "rate": 1, "position": 10}, "interval_invalid"),
        ({"intervals": "0-10", "rate": 1, "position": 10}, "intervals_invalid"),
        ({"rate": 1, "position": 10}, "intervals_invalid"),
        ({"intervals": [[i, i + 1] for i in range(201)], "rate": 1, "position": 10}, "intervals_too_many"),
        ({"intervals": [[0, 10]], "rate": 16, "position": 10}, "rate_invalid"),
        ({"intervals": [[0, 10]], "position": 10}, "rate_invalid"),
        ({"intervals": [[0, 10]], "rate": 1, "position": -3}, "position_invalid"),
        ({"intervals": [[0, 10]], "rate": 1, "position": 10**30}, "position_invalid"),
        ([[0, 10]], "body_invalid"),
    ]
    for body, code in cases:
        _error(client.post(url, json=body), 400, code)
    token_header = {"X-CSRFToken": client.csrf_token(), "Content-Type": "application/json"}
    raw = [
        ('{"intervals": [[NaN, 10]], "rate": 1, "position": 10}', "interval_invalid"),
        ('{"intervals": [[0, Infinity]], "rate": 1, "position": 10}', "interval_invalid"),
        ('{"intervals": [[0, 1e999]], "rate": 1, "position": 10}', "interval_invalid"),
        ('{"intervals": [[0, 10]], "rate": NaN, "position": 10}', "rate_invalid"),
        ('{"intervals": [[0, 10]], "rate": 1, "position": -Infinity}', "position_invalid"),
        ('{"intervals": [[0, 1' + "0" * 400 + "]]}", "interval_invalid"),
        ("{not json", "body_invalid"),
    ]
    for text, code in raw:
        _error(client.post(url, data=text, headers=token_header, csrf=False), 400, code)
    # none of that spent anything: an honest report still gets its seconds
    good = client.post(url, json={"intervals": [[0, 30]], "rate": 1, "position": 30})
    assert good.status_code == 200 and good.get_json()["counted"] == 30


def test_refusals(app, client, auth, make_course, create_user):
    course = make_course(durations=(600.0,))
    hidden = make_course(open_to_all=False)
    draft = make_course(published=False)
    pending = make_course(ready=False)
    create_user("xueyuan")
    create_user("pangren")
    lesson = course.lesson_ids[0]
    report = {"intervals": [[0, 10]], "rate": 1, "position": 10}

    # anonymous: 401 everywhere, in the JSON shape
    for response in (
        client.get(f"{API}/courses"),
        client.get(f"{API}/lessons/{lesson}/progress"),
        client.post(f"{API}/lessons/{lesson}/watch"),
        client.post(f"{API}/watch/whatever", json=report),
    ):
        _error(response, 401, "login_required")

    auth.login("pangren")
    theirs = client.post(f"{API}/lessons/{lesson}/watch").get_json()["session"]
    auth.logout()
    auth.login("xueyuan")
    # no CSRF token: refused before anything starts
    _error(client.post(f"{API}/lessons/{lesson}/watch", csrf=False), 400, "csrf_failed")
    _error(client.post(f"{API}/watch/{theirs}", json=report, csrf=False), 400, "csrf_failed")
    # forged, hidden, unpublished and not-ready lessons
    for missing in (999999, 2**31 - 1, hidden.lesson_ids[0], draft.lesson_ids[0]):
        _error(client.post(f"{API}/lessons/{missing}/watch"), 404, "lesson_not_found")
        _error(client.get(f"{API}/lessons/{missing}/progress"), 404, "lesson_not_found")
    assert client.post(f"{API}/lessons/{2**40}/watch").status_code == 404
    _error(client.post(f"{API}/lessons/{pending.lesson_ids[0]}/watch"), 403, "lesson_not_ready")
    # another member's session looks exactly like a forged one
    for token in (theirs, "forged-token", "x" * 300):
        _error(client.post(f"{API}/watch/{token}", json=report), 404, "session_not_found")
    # a superseded session: 409 with the code the player shows its message for
    first = client.post(f"{API}/lessons/{lesson}/watch").get_json()["session"]
    client.post(f"{API}/lessons/{lesson}/watch")
    error = _error(client.post(f"{API}/watch/{first}", json=report), 409, "session_superseded")
    assert "其他窗口或设备" in error["message"]


def test_report_rate_limit_answers_json_429(app, client, auth, make_course, create_user):
    app.config["SCHOOL_REPORT_RATE_LIMIT"] = "3 per minute"
    course = make_course(durations=(600.0,))
    create_user("xueyuan")
    auth.login("xueyuan")
    token = client.post(f"{API}/lessons/{course.lesson_ids[0]}/watch").get_json()["session"]
    body = json.dumps({"intervals": [], "rate": 1, "position": 0})
    headers = {"X-CSRFToken": client.csrf_token(), "Content-Type": "application/json"}
    statuses = [client.post(f"{API}/watch/{token}", data=body, headers=headers, csrf=False) for _ in range(4)]
    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    _error(statuses[3], 429, "rate_limited")
