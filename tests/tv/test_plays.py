"""Play reports from boxes: bounded by the wall clock and the duration, monotonic, per station."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from dangxiao.db_types import utcnow
from dangxiao.errors import NotFound
from dangxiao.extensions import db
from dangxiao.school.models import CourseAssignment
from dangxiao.transactions import atomic
from dangxiao.tv import plays
from dangxiao.tv.models import Device, Play

HALF_HOUR = 1800.0


@pytest.fixture
def station(app, create_branch, make_course, make_device):
    """Two stations in two branches; a public 30-minute lesson; a member-only course of branch b.

    No app context is held: requests must each get their own (``g.device`` lives on it)."""
    a = create_branch("甲村支部")
    b = create_branch("乙村支部")
    public = make_course(durations=(HALF_HOUR, 600.0))
    private = make_course(durations=(600.0,), open_to_all=False)
    with app.app_context(), atomic():
        db.session.add(CourseAssignment(course_id=private.id, branch_id=b, year=2026, deadline=date(2026, 12, 31)))
    device_a, key_a = make_device(a)
    device_b, key_b = make_device(b)
    return {
        "lesson": public.lesson_ids[0],
        "short": public.lesson_ids[1],
        "private": private.lesson_ids[0],
        "a": device_a,
        "b": device_b,
        "key_a": key_a,
        "key_b": key_b,
    }


def test_seconds_bounded_by_clock_and_duration_and_never_decrease(ctx, station):
    device = db.session.get(Device, station["a"])
    t0 = utcnow() - timedelta(hours=2)
    with atomic():
        play = plays.start_play(device, station["lesson"], attendees=6, now=t0)
        token = play.token
    assert len(token) == 43 and play.seconds == 0 and play.attendees == 6

    with atomic():  # honest: 100 s after 60 s of wall clock (allowance 60 × 2 + 6 = 126)
        play = plays.report_play(device, token, 100, 100.5, now=t0 + timedelta(seconds=60))
    assert (play.seconds, play.position, play.capped) == (100.0, 100.5, False)

    with atomic():  # a lower total keeps the stored one; the position moves
        play = plays.report_play(device, token, 50, 40, attendees=9, now=t0 + timedelta(seconds=70))
    assert (play.seconds, play.position, play.attendees, play.capped) == (100.0, 40.0, 9, False)

    with atomic():  # 10 hours after 10 minutes: the wall clock allows 10 × 60 × 2 + 6
        play = plays.report_play(device, token, 36000, 99999, now=t0 + timedelta(minutes=10))
    assert (play.seconds, play.position, play.capped) == (1206.0, HALF_HOUR, True)

    with atomic():  # 10 hours after 40 minutes: the lesson's duration is the bound
        play = plays.report_play(device, token, 36000, -5, now=t0 + timedelta(minutes=40))
    assert (play.seconds, play.position, play.capped) == (HALF_HOUR, 0.0, True)
    stored = db.session.scalars(select(Play).where(Play.token == token)).one()
    assert stored.seconds == HALF_HOUR

    # resume: the latest play's position, unless it is within 10 s of the end
    assert plays.resume_at(device, station["lesson"]) == 0.0
    with atomic():
        later = plays.start_play(device, station["lesson"], now=t0 + timedelta(hours=1))
        plays.report_play(device, later.token, 300, 295.0, now=t0 + timedelta(hours=1, minutes=5))
    assert plays.resume_at(device, station["lesson"]) == 295.0
    with atomic():
        plays.report_play(device, later.token, 300, HALF_HOUR - 5, now=t0 + timedelta(hours=1, minutes=6))
    assert plays.resume_at(device, station["lesson"]) == 0.0
    assert plays.resume_at(db.session.get(Device, station["b"]), station["lesson"]) == 0.0

    # another station's token is the same 404 as none
    with pytest.raises(NotFound) as error:
        plays.report_play(db.session.get(Device, station["b"]), token, 10, 10)
    assert error.value.code == "play_not_found"


def _post(client, url, key, body=None, **kw):
    """As a box does it: the key in a header, no cookie, no CSRF token."""
    return client.post(url, json=body, headers={"X-Device-Key": key}, csrf=False, **kw)


def test_play_api_bad_input_and_other_station(app, client, station):
    key_a, key_b = station["key_a"], station["key_b"]
    assert client.post("/api/tv/v1/plays", json={"lesson_id": station["lesson"]}, csrf=False).status_code == 401

    started = _post(client, "/api/tv/v1/plays", key_a, {"lesson_id": station["lesson"], "attendees": 12})
    assert started.status_code == 201, started.get_json()
    play = started.get_json()["play"]
    assert play["lesson_id"] == station["lesson"] and (play["seconds"], play["position"]) == (0, 0)
    token = play["token"]

    # a box reporting 10 hours for a 30-minute lesson right after starting: capped by the clock
    report = _post(client, f"/api/tv/v1/plays/{token}", key_a, {"seconds": 36000, "position": 12})
    assert report.status_code == 200 and report.get_json()["capped"] is True
    with app.app_context():
        row = db.session.scalars(select(Play).where(Play.token == token)).one()
        elapsed = (utcnow() - row.started_at.replace(tzinfo=utcnow().tzinfo)).total_seconds()
        assert 0 < row.seconds <= elapsed * 2 + 6 and row.seconds <= HALF_HOUR and row.attendees == 12

    for body, code in (
        ([1, 2], "body_invalid"),
        ({}, "lesson_id_invalid"),
        ({"lesson_id": "7"}, "lesson_id_invalid"),
        ({"lesson_id": True}, "lesson_id_invalid"),
        ({"lesson_id": station["lesson"], "attendees": 501}, "attendees_invalid"),
        ({"lesson_id": station["lesson"], "attendees": 2.5}, "attendees_invalid"),
    ):
        response = _post(client, "/api/tv/v1/plays", key_a, body)
        assert (response.status_code, response.get_json()["error"]["code"]) == (400, code), body
    # another branch's member-only course, and a lesson that does not exist: the same 404
    for lesson_id in (station["private"], 2**31 - 1):
        response = _post(client, "/api/tv/v1/plays", key_a, {"lesson_id": lesson_id})
        assert (response.status_code, response.get_json()["error"]["code"]) == (404, "lesson_not_found")
    assert _post(client, "/api/tv/v1/plays", key_b, {"lesson_id": station["private"]}).status_code == 201

    url = f"/api/tv/v1/plays/{token}"
    for raw, code in (
        ('{"seconds": -1, "position": 0}', "seconds_invalid"),
        ('{"seconds": NaN, "position": 0}', "seconds_invalid"),
        ('{"seconds": 1e400, "position": 0}', "seconds_invalid"),
        ('{"seconds": "60", "position": 0}', "seconds_invalid"),
        ('{"seconds": 60}', "position_invalid"),
        ('{"seconds": 60, "position": null}', "position_invalid"),
        ('{"seconds": 60, "position": 1, "attendees": -1}', "attendees_invalid"),
        ('"seconds"', "body_invalid"),
        ("not json", "body_invalid"),
    ):
        response = client.post(
            url, data=raw, content_type="application/json", headers={"X-Device-Key": key_a}, csrf=False
        )
        assert (response.status_code, response.get_json()["error"]["code"]) == (400, code), raw
    response = _post(client, url, key_b, {"seconds": 60, "position": 1})  # station b reporting a's play
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "play_not_found")
    assert _post(client, "/api/tv/v1/plays/nope", key_a, {"seconds": 1, "position": 1}).status_code == 404

    app.config["TV_PLAYS_PER_HOUR"] = 2  # a has started 1 (the refused ones wrote nothing)
    assert _post(client, "/api/tv/v1/plays", key_a, {"lesson_id": station["short"]}).status_code == 201
    limited = _post(client, "/api/tv/v1/plays", key_a, {"lesson_id": station["short"]})
    assert (limited.status_code, limited.get_json()["error"]["code"]) == (429, "play_rate_limited")
    with app.app_context():
        assert db.session.scalar(select(Play.id).where(Play.device_id == station["a"]).offset(2)) is None
