"""Watch credit rules, named after the cheats they stop (service level, explicit clocks).

The intervals core has its own quick tests first (no database).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dangxiao.errors import DomainError
from dangxiao.school import intervals as iv

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# --- the pure core --------------------------------------------------------------------------


def test_intervals_union_subtract_trim():
    assert iv.union([[5, 8], [0, 2], [2, 3], [7, 10], [20, 20]]) == [(0, 3), (5, 10)]
    assert iv.measure([[0, 10], [5, 15], [30, 31]]) == 16
    assert iv.subtract([[0, 10]], [(2, 3), (5, 6)]) == [(0, 2), (3, 5), (6, 10)]
    assert iv.subtract([[2, 3]], [(0, 10)]) == []
    assert iv.trim_to_budget([(0, 5), (10, 20)], 8) == [(0, 5), (10, 13)]
    assert iv.trim_to_budget([(0, 5)], 0) == []
    # credit: replay earns nothing, the budget cuts in timeline order, crumbs are dropped
    union, added = iv.credit([(0, 10)], [(0, 10), (10, 40)], 12)
    assert (union, added) == ([(0, 22)], 12)
    assert iv.credit([(0, 10)], [(0, 10)], 100) == ([(0, 10)], 0.0)
    assert iv.credit([], [(50, 50.4)], 100) == ([], 0.0)  # a lone sliver: dropped
    assert iv.credit([(0, 10)], [(10, 10.4)], 100) == ([(0, 10.4)], 0.4)  # extending: kept


def test_intervals_validate():
    assert iv.validate([[0, 10], [599.5, 600.8]], 600) == [(0, 10), (599.5, 600)]
    assert iv.validate([], 600) == []
    bad = {
        "intervals_invalid": ["0-10", {"a": 1}, None, 5],
        "intervals_too_many": [[[i, i + 1] for i in range(201)]],
        "interval_invalid": [
            [[-1, 5]],
            [[10, 5]],
            [[5, 5]],
            [[0, 602]],
            [[float("nan"), 5]],
            [[0, float("inf")]],
            [[0, 10**400]],
            [[True, 5]],
            [["0", "5"]],
            [[0, 5, 9]],
            [[1e308, 1e308 * 10]],
        ],
    }
    for code, cases in bad.items():
        for raw in cases:
            with pytest.raises(iv.IntervalError) as caught:
                iv.validate(raw, 600)
            assert caught.value.code == code, raw


# --- the service ----------------------------------------------------------------------------


@pytest.fixture
def rig(ctx, make_course, create_user):
    """One member, a course of lessons 600 s and 1200 s, and clock-driven service calls."""
    from dangxiao.accounts.models import User
    from dangxiao.extensions import db
    from dangxiao.school import watch
    from dangxiao.school.models import Lesson, LessonProgress
    from dangxiao.transactions import atomic

    class Rig:
        course = make_course()
        member = create_user("xueyuan")

        def user(self, user_id=None):
            return db.session.get(User, user_id or self.member)

        def start(self, t=0.0, lesson=0, user_id=None):
            with atomic():
                lesson_row = db.session.get(Lesson, self.course.lesson_ids[lesson])
                return watch.start_session(self.user(user_id), lesson_row, now=T0 + timedelta(seconds=t))["session"]

        def report(self, token, intervals, t, rate=1.0, position=None, user_id=None):
            if position is None:
                position = intervals[-1][1] if intervals else 0
            with atomic():
                return watch.report(self.user(user_id), token, intervals, rate, position, now=T0 + timedelta(seconds=t))

        def progress(self, lesson=0, user_id=None):
            return db.session.scalar(
                select(LessonProgress).where(
                    LessonProgress.user_id == (user_id or self.member),
                    LessonProgress.lesson_id == self.course.lesson_ids[lesson],
                )
            )

    return Rig()


def test_honest_viewing_completes_at_95_percent(rig):
    from dangxiao.extensions import db
    from dangxiao.school import watch
    from dangxiao.school.credit_models import CreditEntry, CreditSource
    from dangxiao.school.models import Enrollment

    token = rig.start(t=0)
    assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 1  # playing enrolled them
    for k in range(37):  # 15 s reports at 1×: 555 s of 600
        result = rig.report(token, [[k * 15, k * 15 + 15]], t=k * 15 + 15.4)
        assert result["counted"] == 15
    assert result == {"played": 555, "counted": 15, "complete": False}
    result = rig.report(token, [[555, 570]], t=570.3)  # 570 = 95 %
    assert result == {"played": 570, "counted": 15, "complete": True}
    progress = rig.progress()
    assert progress.complete and progress.completed_at is not None and progress.intervals == [[0, 570]]
    # the credit hook ran exactly once, and keeps quiet on later reports
    rig.report(token, [[570, 600]], t=600.3)
    lesson_id = rig.course.lesson_ids[0]
    awards = select(func.count()).where(CreditEntry.source == CreditSource.lesson, CreditEntry.ref_id == lesson_id)
    assert db.session.scalar(awards) == 1
    # 继续学习: that lesson is complete, so the next one from its start; then mid-lesson resume
    assert watch.resume_point(rig.member, rig.course.id) == (rig.course.lesson_ids[1], 0.0)
    second = rig.start(t=700, lesson=1)
    rig.report(second, [[0, 100]], t=800, position=100)
    assert watch.resume_point(rig.member, rig.course.id) == (rig.course.lesson_ids[1], 100)
    assert set(watch.progress_map(rig.member, rig.course.lesson_ids)) == set(rig.course.lesson_ids)


def test_seek_to_end_earns_no_credit(rig):
    token = rig.start(t=0)
    # the Open edX trick: seek to 95 % and report only the tail as played
    result = rig.report(token, [[570, 600]], t=30, position=600)
    assert result["counted"] == 30 and result["played"] == 30 and not result["complete"]
    # a forged claim of the whole timeline after the seek still gets only wall-clock seconds
    result = rig.report(token, [[0, 600]], t=40)
    assert result["counted"] == pytest.approx(20 + 6, abs=0.01)  # 10 s × 2 + carried grace ≤ 6
    assert not result["complete"]


def test_forged_single_pulse_cannot_complete(rig):
    token = rig.start(t=0)
    result = rig.report(token, [[0, 600]], t=1, rate=2, position=600)
    assert result == {"played": 2, "counted": 2, "complete": False}
    assert rig.progress().position == 600  # the position is where they are, not what they earned


def test_heartbeat_burst_earns_wall_clock_only(rig):
    token = rig.start(t=0)
    total = sum(rig.report(token, [[i * 5, i * 5 + 5]], t=0.01 * (i + 1))["counted"] for i in range(100))
    assert total <= 2.0 + 1e-6  # one second of wall clock × 2
    # after an honest report, a burst only spends the unspent grace once
    rig.report(token, [[300, 330]], t=20)
    burst = sum(
        rig.report(token, [[400 + i * 2, 402 + i * 2]], t=20.001 * (1 + i * 1e-5))["counted"] for i in range(50)
    )
    assert burst <= 6.0 + 0.1


def test_replayed_interval_counts_once(rig):
    token = rig.start(t=0)
    assert rig.report(token, [[0, 15]], t=15)["counted"] == 15
    assert rig.report(token, [[0, 15]], t=30)["counted"] == 0
    assert rig.report(token, [[0, 15], [5, 15], [0, 20]], t=45)["counted"] == 5
    # a fresh session replaying the same part earns nothing either
    again = rig.start(t=60)
    assert rig.report(again, [[0, 20]], t=80) == {"played": 20, "counted": 0, "complete": False}


def test_parallel_sessions_count_once(rig, create_user):
    tab1 = rig.start(t=0)
    tab2 = rig.start(t=1)  # another tab or device: takes over
    with pytest.raises(DomainError) as caught:
        rig.report(tab1, [[0, 15]], t=15)
    assert caught.value.code == "session_superseded" and caught.value.status == 409
    assert rig.report(tab2, [[0, 15]], t=16)["counted"] == 15
    # a script playing two lessons at once: the newer playback wins, the other is refused
    other_lesson = rig.start(t=20, lesson=1)
    with pytest.raises(DomainError) as caught:
        rig.report(tab2, [[15, 30]], t=30)
    assert caught.value.code == "session_superseded"
    assert rig.report(other_lesson, [[0, 10]], t=30)["counted"] == 10
    assert rig.progress(0).played == 15


def test_rate_16_refused(rig):
    token = rig.start(t=0)
    for rate, ok in ((16, False), (2.5, False), (0, False), (-1, False), ("2", False), (True, False), (2, True)):
        if ok:
            assert rig.report(token, [[0, 10]], t=10, rate=rate)["counted"] == 10
            continue
        with pytest.raises(DomainError) as caught:
            rig.report(token, [[0, 10]], t=10, rate=rate)
        assert caught.value.code == "rate_invalid", rate


def test_superseded_session_refused_409(rig):
    old = rig.start(t=0)
    rig.report(old, [[0, 10]], t=10)
    rig.start(t=20)
    with pytest.raises(DomainError) as caught:
        rig.report(old, [[10, 20]], t=30)
    assert caught.value.status == 409 and caught.value.code == "session_superseded"
    assert rig.progress().played == 10


def test_other_members_session_404(rig, create_user):
    token = rig.start(t=0)
    intruder = create_user("pangren")
    with pytest.raises(DomainError) as caught:
        rig.report(token, [[0, 10]], t=10, user_id=intruder)
    assert caught.value.status == 404 and caught.value.code == "session_not_found"
    for forged in ("nope", "", "x" * 500, None, 12):
        with pytest.raises(DomainError) as caught:
            rig.report(forged, [[0, 10]], t=10)
        assert caught.value.status == 404


def test_late_report_loses_only_seconds(rig):
    token = rig.start(t=0)
    # at 2×: a report held up 3 s by the network, then the next one right on time
    assert rig.report(token, [[0, 30]], t=18, rate=2)["counted"] == 30
    assert rig.report(token, [[30, 60]], t=30, rate=2)["counted"] == 30  # 12 s × 2 + 6 carried
    # a lost report: the next one carries both halves and the wall clock covers them
    assert rig.report(token, [[60, 120]], t=60, rate=2)["counted"] == 60
    # a paused tab for ten minutes, then playback resumes: nothing lost, nothing gained
    assert rig.report(token, [[120, 135]], t=675)["counted"] == 15
    assert rig.progress().played == 135
