"""Quizzes: snapshots, no answer leaks, time limit, double submit, foreign ids, attempts, draws, access."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import pytest
from flask import render_template
from sqlalchemy import select, update

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.notifications.models import Notification
from dangxiao.policy import SYSTEM
from dangxiao.school import credits, quizzes
from dangxiao.school import question_bank as qb
from dangxiao.school.models import CourseAssignment
from dangxiao.school.quiz_models import QuizAttempt
from dangxiao.transactions import atomic

JSON = {"Accept": "application/json"}


def _user(user_id: int):
    from dangxiao.accounts.models import User

    return db.session.get(User, user_id)


def _bank_questions(bank: qb.Bank, per_difficulty=(4, 0, 0), tag: str = "") -> None:
    with atomic():
        for difficulty, count in enumerate(per_difficulty, start=1):
            for n in range(count):
                stem = f"{tag}难度{difficulty}第{n}题"
                qb.create_question(
                    SYSTEM,
                    bank,
                    qb.QuestionInput(
                        "single",
                        stem,
                        ["选项一", "选项二", "选项三", "选项四"],
                        [0],
                        f"解析秘密{difficulty}-{n}",
                        difficulty,
                    ),
                )


def _quiz(course_id: int, **kw):
    options = dict(
        title="课程测试",
        course_id=course_id,
        mode="random",
        draw={"1": 4},
        time_limit_minutes=10,
        max_attempts=None,
        pass_mark=60,
        published=True,
    )
    options.update(kw)
    with atomic():
        return quizzes.configure(SYSTEM, None, **options).id


def _right(attempt: QuizAttempt) -> dict[str, list[str]]:
    return {q["id"]: [o["id"] for o in q["options"] if o["correct"]] for q in attempt.snapshot}


def _wrong(attempt: QuizAttempt) -> dict[str, list[str]]:
    return {q["id"]: [next(o["id"] for o in q["options"] if not o["correct"])] for q in attempt.snapshot}


def _attempt_id(response) -> int:
    return int(re.search(r"/attempts/(\d+)", response.headers["Location"]).group(1))


def test_take_snapshot_no_leak_submit_once(ctx, client, auth, create_user, make_course, monkeypatch):
    passed_calls = []
    monkeypatch.setattr(credits, "quiz_passed", lambda user_id, quiz, attempt: passed_calls.append(attempt.id))
    course = make_course()
    _bank_questions(qb.Bank(course_id=course.id))
    quiz_id = _quiz(course.id, time_limit_minutes=None)
    member = create_user("member1")
    auth.login("member1")

    intro = client.get(f"/school/quizzes/{quiz_id}")
    assert intro.status_code == 200 and "4 道" in intro.get_data(as_text=True)
    attempt_id = _attempt_id(client.post(f"/school/quizzes/{quiz_id}/start"))
    page = client.get(f"/school/quizzes/attempts/{attempt_id}").get_data(as_text=True)
    assert "难度1第0题" in page and 'value="q1o1"' in page
    assert "解析秘密" not in page and "correct" not in page  # neither explanations nor answers reach the browser
    assert client.post(f"/school/quizzes/{quiz_id}/start").headers["Location"].endswith(f"/attempts/{attempt_id}")

    attempt = db.session.get(QuizAttempt, attempt_id)
    right = _right(attempt)
    # editing the bank afterwards does not change the attempt
    question = db.session.get(qb.Question, attempt.snapshot[0]["question_id"])
    old_stem = question.stem
    with atomic():
        qb.update_question(SYSTEM, question, qb.QuestionInput("single", "改过的题干", ["新甲", "新乙"], [1]))
    form = {key: value[0] for key, value in right.items()}
    assert client.post(f"/school/quizzes/attempts/{attempt_id}/submit", data=form).status_code == 302
    result = client.get(f"/school/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert "100 分" in result and "已通过" in result and old_stem in result and "改过的题干" not in result
    assert "解析秘密" in result  # explanations after submission
    db.session.expire_all()
    attempt = db.session.get(QuizAttempt, attempt_id)
    assert attempt.score == 100.0 and attempt.passed and passed_calls == [attempt_id]
    note = db.session.scalar(select(Notification).where(Notification.user_id == member))
    assert note.kind == "school.quiz_result" and note.text == "《课程测试》测试成绩：100 分，已通过"

    # a second submit is refused and changes nothing
    wrong = {key: value[0] for key, value in _wrong(attempt).items()}
    client.post(f"/school/quizzes/attempts/{attempt_id}/submit", data=wrong)
    with pytest.raises(quizzes.Conflict), atomic():
        quizzes.submit_attempt(_user(member), attempt, {})
    db.session.expire_all()
    assert db.session.get(QuizAttempt, attempt_id).score == 100.0 and passed_calls == [attempt_id]


def test_foreign_ids_and_late_answers(ctx, client, auth, create_user, make_course):
    course = make_course()
    _bank_questions(qb.Bank(course_id=course.id))
    quiz_id = _quiz(course.id)
    create_user("member1")
    auth.login("member1")
    attempt_id = _attempt_id(client.post(f"/school/quizzes/{quiz_id}/start"))
    attempt = db.session.get(QuizAttempt, attempt_id)
    right = _right(attempt)
    url = f"/school/quizzes/attempts/{attempt_id}"

    saved = client.post(f"{url}/answer", json={"question": "q1", "options": right["q1"]}, headers=JSON)
    assert saved.status_code == 200 and saved.json == {"saved": True}
    for body in (
        {"question": "q99", "options": []},  # not in the attempt
        {"question": "q1", "options": right["q2"]},  # another question's option
        {"question": "q1", "options": ["q1o1", "q1o2"]},  # two answers to a single choice
        {"question": ["q1"], "options": []},
    ):
        refused = client.post(f"{url}/answer", json=body, headers=JSON)
        assert refused.status_code == 400 and refused.json["error"]["message"]
    refused = client.post(f"{url}/submit", data={"q1": right["q1"][0], "q77": "q77o1"})
    assert refused.status_code == 400 and "不属于本次测试" in refused.get_data(as_text=True)
    db.session.expire_all()
    attempt = db.session.get(QuizAttempt, attempt_id)
    assert attempt.submitted_at is None and attempt.answers == {"q1": right["q1"]}

    # the time runs out: answers are refused, and the late submit is graded on what was saved in time
    with atomic():
        db.session.execute(
            update(QuizAttempt).where(QuizAttempt.id == attempt_id).values(deadline_at=utcnow() - timedelta(minutes=1))
        )
    late = client.post(f"{url}/answer", json={"question": "q2", "options": right["q2"]}, headers=JSON)
    assert late.status_code == 409 and late.json["error"]["code"] == "time_up"
    client.post(f"{url}/submit", data={key: value[0] for key, value in right.items()})
    db.session.expire_all()
    attempt = db.session.get(QuizAttempt, attempt_id)
    assert attempt.submitted_at is not None and attempt.score == 25.0 and attempt.passed is False
    assert client.get(url).headers["Location"].endswith("/result")  # no taking it again


def test_attempts_limit_best_grade_and_expired_attempt(ctx, create_user, make_course):
    course = make_course()
    _bank_questions(qb.Bank(course_id=course.id))
    quiz_id = _quiz(course.id, max_attempts=3, pass_mark=50)
    member = _user(create_user("member1"))
    quiz = db.session.get(quizzes.Quiz, quiz_id)
    with atomic():
        first = quizzes.start_attempt(member, quiz)
        quizzes.submit_attempt(member, first, {**_wrong(first), "q1": _right(first)["q1"]})  # 25
    with atomic():
        second = quizzes.start_attempt(member, quiz)
        quizzes.submit_attempt(member, second, _right(second))  # 100
    with atomic():
        third = quizzes.start_attempt(member, quiz)
        quizzes.save_answer(member, third, "q1", _right(third)["q1"])
        third.deadline_at = utcnow() - timedelta(minutes=5)  # left without submitting; time ran out
    with pytest.raises(quizzes.Conflict) as caught, atomic():
        quizzes.start_attempt(member, quiz)
    assert caught.value.code == "no_attempts_left"
    with atomic():  # what the intro page does on every visit (the refused start rolled back)
        quizzes.close_expired(member.id, quiz)
    db.session.expire_all()
    third = db.session.get(QuizAttempt, third.id)
    assert third.submitted_at is not None and third.score == 25.0  # closed on the answer saved in time
    assert [first.score, second.score] == [25.0, 100.0] and [first.number, second.number, third.number] == [1, 2, 3]
    assert quizzes.best_attempt(member.id, quiz_id).id == second.id
    (row,) = quizzes.for_course(member, course.id)
    assert row["best_score"] == 100.0 and row["passed"] and row["attempts_left"] == 0
    assert row["url"] == f"/school/quizzes/{quiz_id}"
    with ctx.test_request_context():
        html = render_template("school/_course_quizzes.html", course=course, quizzes=[row])
    assert f'href="/school/quizzes/{quiz_id}"' in html and "最好成绩 100 分" in html and "剩余 0 次" in html


def test_random_draw_by_difficulty_and_shuffle(ctx, create_user, make_course):
    course = make_course()
    bank = qb.Bank(category_id=course.category_id)
    _bank_questions(bank, per_difficulty=(5, 4, 3), tag="分类")
    with pytest.raises(DomainError) as caught, atomic():
        quizzes.configure(
            SYSTEM, None, title="太多", course_id=course.id, category_id=course.category_id, draw={"3": 4}, pass_mark=60
        )
    assert caught.value.code == "draw_short"
    quiz_id = _quiz(course.id, category_id=course.category_id, draw={"1": 2, "2": 1, "3": 2})
    quiz = db.session.get(quizzes.Quiz, quiz_id)
    orders, picked = set(), set()
    for n in range(3):
        member = _user(create_user(f"member{n}"))
        with atomic():
            attempt = quizzes.start_attempt(member, quiz, rng=random.Random(n))
        assert sorted(q["difficulty"] for q in attempt.snapshot) == [1, 1, 2, 3, 3]
        assert [q["id"] for q in attempt.snapshot] == ["q1", "q2", "q3", "q4", "q5"]
        for q in attempt.snapshot:
            assert [o["id"] for o in q["options"]] == [f"{q['id']}o{m}" for m in range(1, 5)]
            orders.add(tuple(o["text"] for o in q["options"]))
            picked.add(q["question_id"])
    assert len(orders) > 1
    assert any(order != ("选项一", "选项二", "选项三", "选项四") for order in orders)
    assert len(picked) > 5  # different members drew different questions


def test_who_may_take(ctx, client, auth, create_user, create_branch, make_course):
    here, there = create_branch("城关镇党支部"), create_branch("东街党支部")
    course = make_course(open_to_all=False)
    with atomic():
        db.session.add(CourseAssignment(course_id=course.id, branch_id=here, year=2026, deadline=date(2026, 12, 31)))
    _bank_questions(qb.Bank(course_id=course.id))
    quiz_id = _quiz(course.id)
    hidden_id = _quiz(course.id, title="未发布测试", published=False)
    _bank_questions(qb.Bank(category_id=course.category_id), tag="公共")
    category_quiz = _quiz(None, category_id=course.category_id, title="公共测试")
    create_user("inside", branch=here)
    outsider = create_user("outside", branch=there)
    create_user("admin1", roles=("admin",))

    auth.login("outside")
    assert client.get(f"/school/quizzes/{quiz_id}").status_code == 403
    assert client.post(f"/school/quizzes/{quiz_id}/start").status_code == 403
    assert client.get(f"/school/quizzes/{category_quiz}").status_code == 200
    assert quizzes.for_course(_user(outsider), course.id) == []
    auth.logout()

    auth.login("inside")
    assert client.get(f"/school/quizzes/{quiz_id}").status_code == 200
    assert client.get(f"/school/quizzes/{hidden_id}").status_code == 403
    attempt_id = _attempt_id(client.post(f"/school/quizzes/{quiz_id}/start"))
    auth.logout()

    auth.login("outside")  # another member's attempt is not found, let alone answerable
    assert client.get(f"/school/quizzes/attempts/{attempt_id}").status_code == 404
    assert client.post(f"/school/quizzes/attempts/{attempt_id}/submit", data={}).status_code == 404
    auth.logout()

    auth.login("admin1")
    assert client.get(f"/school/quizzes/{hidden_id}").status_code == 200
    assert client.get("/admin/school/questions/quizzes").status_code == 200
    assert client.get(f"/admin/school/questions/?bank=course-{course.id}").status_code == 200


def test_demo_questions_seed_idempotent(ctx, create_user):
    from dangxiao.school import demo_questions

    with atomic():
        first = demo_questions.seed_demo_quiz(None)
    with atomic():
        second = demo_questions.seed_demo_quiz(None)
    assert len(demo_questions.QUESTIONS) >= 30 and "新增 0 道题" in second[-1] and len(second) == 1, (first, second)
    quiz = db.session.scalar(select(quizzes.Quiz).where(quizzes.Quiz.title == demo_questions.QUIZ_TITLE))
    assert quiz.published and quiz.max_attempts == 3 and quiz.time_limit_seconds == 600
    member = _user(create_user("member1"))
    with atomic():
        attempt = quizzes.start_attempt(member, quiz)
    kinds = {q["kind"] for q in attempt.snapshot}
    assert len(attempt.snapshot) == 10 and kinds <= {"single", "multiple", "truefalse"}
