"""Quizzes: set-up, attempts and grading.

Time limit — how it is enforced: an attempt gets ``deadline_at`` when it starts. Answers are
saved as the member goes (one autosave POST per question, :func:`save_answer`) and are
refused once ``deadline_at + GRACE`` has passed, so everything stored arrived in time. The
final submit counts its own answers only when it arrives in time; a late submit (or an
attempt never submitted, closed the next time the member opens the quiz) is graded on the
answers saved in time. Nothing answered after the limit is counted.

Snapshot: each attempt stores its questions and shuffled options with ids local to the
snapshot ("q1", "q1o3"); editing or retiring a bank question never changes a past attempt.
Correct answers and explanations are only sent after submission (:func:`public_questions`
is what the take page sees). Grade: the best submitted attempt.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.notifications.service import notify, path_for
from dangxiao.policy import can, require
from dangxiao.school import credits
from dangxiao.school import question_bank as qb
from dangxiao.school.models import Course
from dangxiao.school.quiz_models import Question, QuestionKind, Quiz, QuizAttempt, QuizMode, QuizQuestion

GRACE = timedelta(seconds=15)
_SYSTEM_RANDOM = random.SystemRandom()


class Conflict(DomainError):
    status = 409


# --- who may take ----------------------------------------------------------------------------


def may_take(actor: Any, quiz: Quiz | None) -> bool:
    """Admins always (to preview); else published, and the course visible (a category quiz: any active member)."""
    if quiz is None:
        return False
    if can(actor, "school.manage"):
        return True
    if not quiz.published or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        return False
    if quiz.course_id is not None:
        return can(actor, "school.view_course", db.session.get(Course, quiz.course_id))
    return getattr(actor, "id", None) is not None


# --- set-up ----------------------------------------------------------------------------------


def quiz_bank(quiz: Quiz) -> qb.Bank:
    """A quiz draws from its category's bank when it names one, else from its course's bank."""
    if quiz.category_id:
        return qb.Bank(category_id=quiz.category_id)
    return qb.Bank(course_id=quiz.course_id)


def _int_or_none(value: Any, label: str, low: int, high: int, field: str) -> int | None:
    """A whole number from a form or JSON (empty or 0 means "none"); anything else is a message."""
    if value in (None, "", 0, "0"):
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise DomainError(f"{label}必须是整数。", f"{field}_invalid", field)
    number = int(text)
    if not low <= number <= high:
        raise DomainError(f"{label}应在 {low} 到 {high} 之间。", f"{field}_invalid", field)
    return number


def configure(
    actor: Any,
    quiz: Quiz | None,
    *,
    title: Any,
    course_id: int | None = None,
    category_id: int | None = None,
    mode: Any = QuizMode.random,
    draw: dict[str, Any] | None = None,
    question_ids: list[int] | None = None,
    time_limit_minutes: Any = None,
    max_attempts: Any = None,
    pass_mark: Any = 60,
    published: bool = False,
) -> Quiz:
    """Create (quiz=None) or edit a quiz; checks the bank holds enough questions for the draw."""
    require(actor, "school.manage")
    title = qb.clean_line(title, "title", "测试名称", 200)
    if not course_id and not category_id:
        raise DomainError("请选择测试所属的课程或题库分类。", "bank_invalid", "course_id")
    if course_id and db.session.get(Course, course_id) is None:
        raise DomainError("所选课程不存在。", "course_invalid", "course_id")
    try:
        mode = QuizMode(mode)
    except ValueError:
        raise DomainError("出题方式无效。", "mode_invalid", "mode") from None
    quiz = quiz or Quiz()
    quiz.title, quiz.course_id, quiz.category_id, quiz.mode = title, course_id or None, category_id or None, mode
    bank = qb.require_bank(quiz_bank(quiz))
    if mode is QuizMode.random:
        counts = {
            str(d): _int_or_none((draw or {}).get(str(d)), f"{label}题数量", 0, 200, "draw") or 0
            for d, label in qb.DIFFICULTY_LABELS.items()
        }
        if sum(counts.values()) == 0:
            raise DomainError("随机抽题至少要抽 1 道题。", "draw_empty", "draw")
        available = qb.available_by_difficulty(bank)
        for d, label in qb.DIFFICULTY_LABELS.items():
            if counts[str(d)] > available[d]:
                message = f"题库中“{label}”题只有 {available[d]} 道，不够抽 {counts[str(d)]} 道。"
                raise DomainError(message, "draw_short", "draw")
        quiz.draw = counts
        quiz.questions = []
    else:
        ids = list(dict.fromkeys(int(i) for i in question_ids or []))
        found = {q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_(ids), bank.where()))}
        if not ids or len(found) != len(ids):
            raise DomainError("请从本题库中选择至少 1 道题。", "questions_invalid", "question_ids")
        quiz.draw = None
        quiz.questions = [QuizQuestion(question_id=qid, position=i) for i, qid in enumerate(ids)]
    minutes = _int_or_none(time_limit_minutes, "时间限制（分钟）", 1, 600, "time_limit_minutes")
    quiz.time_limit_seconds = minutes * 60 if minutes else None
    quiz.max_attempts = _int_or_none(max_attempts, "可答次数", 1, 100, "max_attempts")
    try:
        mark = float(pass_mark)
    except (TypeError, ValueError):
        mark = -1.0
    if not 0 <= mark <= 100:
        raise DomainError("及格分应在 0 到 100 之间。", "pass_mark_invalid", "pass_mark")
    quiz.pass_mark = mark
    quiz.published = bool(published)
    db.session.add(quiz)
    db.session.flush()
    return quiz


def list_quizzes(actor: Any) -> list[Quiz]:
    require(actor, "school.manage")
    return list(db.session.scalars(select(Quiz).order_by(Quiz.id.desc())))


# --- attempts --------------------------------------------------------------------------------


def _pick_questions(quiz: Quiz, rng: random.Random) -> list[Question]:
    load = selectinload(Question.options)
    if quiz.mode is QuizMode.fixed:
        stmt = (
            select(Question)
            .join(QuizQuestion, QuizQuestion.question_id == Question.id)
            .where(QuizQuestion.quiz_id == quiz.id, Question.active.is_(True))
            .order_by(QuizQuestion.position)
            .options(load)
        )
        return list(db.session.scalars(stmt))
    bank, picked = quiz_bank(quiz), []
    for d, label in qb.DIFFICULTY_LABELS.items():
        want = int((quiz.draw or {}).get(str(d), 0) or 0)
        if not want:
            continue
        ids = list(
            db.session.scalars(
                select(Question.id).where(bank.where(), Question.active.is_(True), Question.difficulty == d)
            )
        )
        if len(ids) < want:
            raise DomainError(f"题库中“{label}”题不足，暂时无法开始测试，请联系管理员。", "draw_short")
        picked += rng.sample(sorted(ids), want)
    by_id = {q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_(picked)).options(load))}
    questions = [by_id[i] for i in picked]
    rng.shuffle(questions)
    return questions


def build_snapshot(questions: list[Question], rng: random.Random) -> list[dict[str, Any]]:
    """Questions with shuffled options (判断题 keep 正确/错误 order), ids local to the snapshot."""
    snapshot = []
    for n, question in enumerate(questions, start=1):
        options = list(question.options)
        if question.kind is not QuestionKind.truefalse:
            rng.shuffle(options)
        snapshot.append(
            {
                "id": f"q{n}",
                "question_id": question.id,
                "kind": question.kind.value,
                "stem": question.stem,
                "explanation": question.explanation,
                "difficulty": question.difficulty,
                "options": [
                    {"id": f"q{n}o{m}", "text": o.text, "correct": bool(o.correct)}
                    for m, o in enumerate(options, start=1)
                ],
            }
        )
    return snapshot


def attempts_of(user_id: int, quiz_id: int) -> list[QuizAttempt]:
    stmt = select(QuizAttempt).where(QuizAttempt.quiz_id == quiz_id, QuizAttempt.user_id == user_id)
    return list(db.session.scalars(stmt.order_by(QuizAttempt.number)))


def is_open(attempt: QuizAttempt, now: datetime | None = None) -> bool:
    """Not submitted, and answers may still be saved (before the deadline plus grace)."""
    if attempt.submitted_at is not None:
        return False
    deadline = aware(attempt.deadline_at)
    return deadline is None or (now or utcnow()) <= deadline + GRACE


def close_expired(user_id: int, quiz: Quiz) -> None:
    """Grade attempts whose time ran out without a submit, on the answers saved in time."""
    for attempt in attempts_of(user_id, quiz.id):
        if attempt.submitted_at is None and not is_open(attempt):
            _finish(attempt, quiz, None)


def start_attempt(actor: Any, quiz: Quiz, *, rng: random.Random | None = None) -> QuizAttempt:
    """Resume the open attempt, or start a new one if attempts are left."""
    require(actor, "school.take_quiz", quiz, "您不能参加这个测试。")
    close_expired(actor.id, quiz)
    attempts = attempts_of(actor.id, quiz.id)
    for attempt in attempts:
        if is_open(attempt):
            return attempt
    if quiz.max_attempts is not None and len(attempts) >= quiz.max_attempts:
        raise Conflict(f"您已用完全部 {quiz.max_attempts} 次答题机会。", "no_attempts_left")
    rng = rng or _SYSTEM_RANDOM
    snapshot = build_snapshot(_pick_questions(quiz, rng), rng)
    if not snapshot:
        raise DomainError("这个测试还没有题目。", "quiz_empty")
    now = utcnow()
    attempt = QuizAttempt(
        quiz_id=quiz.id,
        user_id=actor.id,
        number=len(attempts) + 1,
        snapshot=snapshot,
        answers={},
        started_at=now,
        deadline_at=now + timedelta(seconds=quiz.time_limit_seconds) if quiz.time_limit_seconds else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
    except IntegrityError:  # the same member started twice at once: the other request won
        raise Conflict("测试已在另一个窗口开始，请刷新页面。", "attempt_race") from None
    return attempt


def get_attempt(actor: Any, attempt_id: int) -> QuizAttempt:
    """The actor's own attempt (admins may read any)."""
    attempt = db.session.get(QuizAttempt, attempt_id) if 0 < attempt_id < 2**31 else None
    if attempt is None or (attempt.user_id != getattr(actor, "id", None) and not can(actor, "school.manage")):
        raise NotFound("答题记录不存在。")
    return attempt


def clean_answers(attempt: QuizAttempt, answers: Any) -> dict[str, list[str]]:
    """Check every key and option id against the snapshot; any stranger refuses the whole lot."""
    if not isinstance(answers, dict):
        raise DomainError("答案格式有误。", "answers_invalid")
    questions = {q["id"]: q for q in attempt.snapshot}
    out: dict[str, list[str]] = {}
    for key, chosen in answers.items():
        question = questions.get(key)
        if question is None:
            raise DomainError("答案中包含不属于本次测试的题目。", "question_invalid")
        chosen = [chosen] if isinstance(chosen, str) else chosen
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            raise DomainError("答案格式有误。", "answers_invalid")
        valid = {o["id"] for o in question["options"]}
        if any(c not in valid for c in chosen):
            raise DomainError("答案中的选项不属于该题。", "option_invalid")
        chosen = sorted(set(chosen))
        if question["kind"] != QuestionKind.multiple.value and len(chosen) > 1:
            raise DomainError("单选题和判断题只能选择一个答案。", "answers_invalid")
        out[key] = chosen
    return out


def save_answer(actor: Any, attempt: QuizAttempt, question_key: Any, option_ids: Any) -> None:
    """Autosave one question's answer; refused once the attempt is submitted or out of time."""
    if attempt.user_id != getattr(actor, "id", None):
        raise NotFound("答题记录不存在。")
    if not isinstance(question_key, str):
        raise DomainError("答案格式有误。", "answers_invalid")
    answer = clean_answers(attempt, {question_key: option_ids if option_ids is not None else []})
    db.session.refresh(attempt, with_for_update=True)
    if attempt.submitted_at is not None:
        raise Conflict("本次测试已交卷，答案不能再修改。", "already_submitted")
    if not is_open(attempt):
        raise Conflict("答题时间已到，此后的答案不计分。", "time_up")
    attempt.answers = {**(attempt.answers or {}), **answer}
    db.session.flush()


def grade(snapshot: list[dict[str, Any]], answers: dict[str, list[str]]) -> tuple[float, list[bool]]:
    """Percent score (one decimal) and right/wrong per question: right means exactly the correct set."""
    marks = []
    for q in snapshot:
        correct = sorted(o["id"] for o in q["options"] if o["correct"])
        marks.append(sorted(answers.get(q["id"], [])) == correct)
    score = round(100.0 * sum(marks) / len(marks), 1) if marks else 0.0
    return score, marks


def _finish(attempt: QuizAttempt, quiz: Quiz, answers: dict[str, list[str]] | None) -> QuizAttempt:
    now = utcnow()
    final = dict(attempt.answers or {})
    if answers is not None and is_open(attempt, now):
        final.update(answers)
    score, _ = grade(attempt.snapshot, final)
    passed = score >= quiz.pass_mark
    done = db.session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt.id, QuizAttempt.submitted_at.is_(None))
        .values(submitted_at=now, answers=final, score=score, passed=passed)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict("本次测试已经交卷，不能重复提交。", "already_submitted")
    db.session.refresh(attempt)
    if passed:
        credits.quiz_passed(attempt.user_id, quiz, attempt)
    result = "已通过" if passed else "未通过"
    notify(
        attempt.user_id,
        "school.quiz_result",
        f"《{quiz.title}》测试成绩：{score:g} 分，{result}",
        path_for("quizzes.result", attempt_id=attempt.id),
    )
    return attempt


def submit_attempt(actor: Any, attempt: QuizAttempt, answers: Any = None) -> QuizAttempt:
    """Hand in: the submitted answers count if in time, else the ones saved in time. Twice is refused."""
    if attempt.user_id != getattr(actor, "id", None):
        raise NotFound("答题记录不存在。")
    cleaned = clean_answers(attempt, answers) if answers is not None else None
    if attempt.submitted_at is not None:
        raise Conflict("本次测试已经交卷，不能重复提交。", "already_submitted")
    return _finish(attempt, attempt.quiz, cleaned)


# --- what pages show -------------------------------------------------------------------------


def public_questions(attempt: QuizAttempt) -> list[dict[str, Any]]:
    """The snapshot without answers or explanations: all the take page may see."""
    return [
        {
            "id": q["id"],
            "kind": q["kind"],
            "kind_label": QuestionKind(q["kind"]).label,
            "stem": q["stem"],
            "options": [{"id": o["id"], "text": o["text"]} for o in q["options"]],
        }
        for q in attempt.snapshot
    ]


def result_view(attempt: QuizAttempt) -> list[dict[str, Any]]:
    """Each question with the member's choice, the correct options and the explanation (after submit only)."""
    if attempt.submitted_at is None:
        raise Conflict("交卷后才能查看答案。", "not_submitted")
    answers = attempt.answers or {}
    _, marks = grade(attempt.snapshot, answers)
    return [
        {**q, "kind_label": QuestionKind(q["kind"]).label, "chosen": answers.get(q["id"], []), "right": right}
        for q, right in zip(attempt.snapshot, marks, strict=True)
    ]


def summary(actor: Any, quiz: Quiz, attempts: list[QuizAttempt] | None = None) -> dict[str, Any]:
    """Intro facts: question count, time limit, attempts used/left, best score, open attempt."""
    attempts = attempts if attempts is not None else attempts_of(actor.id, quiz.id)
    graded = [a for a in attempts if a.submitted_at is not None and a.score is not None]
    best = max(graded, key=lambda a: (a.score, -a.number), default=None)
    left = None if quiz.max_attempts is None else max(0, quiz.max_attempts - len(attempts))
    count = sum((quiz.draw or {}).values()) if quiz.mode is QuizMode.random else len(quiz.questions)
    open_attempt = next((a for a in attempts if is_open(a)), None)
    return {
        "quiz": quiz,
        "question_count": count,
        "time_limit_minutes": (quiz.time_limit_seconds or 0) // 60 or None,
        "attempts_used": len(attempts),
        "attempts_left": left,
        "best": best,
        "best_score": best.score if best else None,
        "passed": any(a.passed for a in graded),
        "open_attempt": open_attempt,
        "attempts": attempts,
    }


def best_attempt(user_id: int, quiz_id: int) -> QuizAttempt | None:
    """The member's grade for a quiz: the highest-scoring submitted attempt (earliest on a tie)."""
    stmt = (
        select(QuizAttempt)
        .where(QuizAttempt.quiz_id == quiz_id, QuizAttempt.user_id == user_id, QuizAttempt.submitted_at.is_not(None))
        .order_by(QuizAttempt.score.desc(), QuizAttempt.number)
    )
    return db.session.scalars(stmt.limit(1)).first()


def for_course(actor: Any, course_id: int) -> list[dict[str, Any]]:
    """The course page's quiz list: [{title, url, best_score, passed, attempts_left, question_count, ...}]."""
    stmt = select(Quiz).where(Quiz.course_id == course_id).order_by(Quiz.id)
    quizzes = [q for q in db.session.scalars(stmt) if may_take(actor, q)]
    if not quizzes or getattr(actor, "id", None) is None:
        return []
    rows = db.session.scalars(
        select(QuizAttempt).where(QuizAttempt.user_id == actor.id, QuizAttempt.quiz_id.in_([q.id for q in quizzes]))
    )
    by_quiz: dict[int, list[QuizAttempt]] = {q.id: [] for q in quizzes}
    for attempt in rows:
        by_quiz[attempt.quiz_id].append(attempt)
    out = []
    for quiz in quizzes:
        facts = summary(actor, quiz, sorted(by_quiz[quiz.id], key=lambda a: a.number))
        out.append(
            {
                "id": quiz.id,
                "title": quiz.title,
                "url": path_for("quizzes.intro", quiz_id=quiz.id),
                "best_score": facts["best_score"],
                "passed": facts["passed"],
                "attempts_left": facts["attempts_left"],
                "question_count": facts["question_count"],
                "time_limit_minutes": facts["time_limit_minutes"],
                "published": quiz.published,
            }
        )
    return out
