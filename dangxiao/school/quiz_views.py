"""Quiz pages for members (/school/quizzes) and question-bank/quiz admin (/admin/school/questions).

Take page: a plain HTML form (works without JS); static/js/quiz.js shows the countdown and
autosaves each answer through ``answer`` as the member goes. The server alone decides what
arrived in time (see dangxiao.school.quizzes).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from dangxiao.access import LOGIN, role
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.queries import get_or_404, id_arg
from dangxiao.school import question_bank as qb
from dangxiao.school import question_io, quizzes
from dangxiao.school.models import Course
from dangxiao.school.quiz_models import Question, QuestionKind, Quiz, QuizMode
from dangxiao.transactions import atomic

bp = Blueprint("quizzes", __name__, url_prefix="/school/quizzes")
admin_bp = Blueprint("quiz_admin", __name__, url_prefix="/admin/school/questions")
ADMIN = role("admin")
BLUEPRINTS = [
    (bp, {view: LOGIN for view in ("intro", "start", "take", "answer", "submit", "result")}),
    (
        admin_bp,
        {
            view: ADMIN
            for view in (
                "index",
                "new",
                "edit",
                "retire",
                "restore",
                "import_file",
                "export",
                "quiz_list",
                "quiz_new",
                "quiz_edit",
            )
        },
    ),
]
_ANSWER_KEY = re.compile(r"q\d{1,4}")


# --- members ---------------------------------------------------------------------------------


def _quiz_for(actor, quiz_id: int) -> Quiz:
    quiz = get_or_404(Quiz, quiz_id, "测试不存在。")
    require(actor, "school.take_quiz", quiz, "您不能参加这个测试。")
    return quiz


@bp.route("/<int:quiz_id>")
def intro(quiz_id: int):
    quiz = _quiz_for(current_user, quiz_id)
    with atomic():
        quizzes.close_expired(current_user.id, quiz)
    return render_template("school/quiz_intro.html", quiz=quiz, facts=quizzes.summary(current_user, quiz))


@bp.route("/<int:quiz_id>/start", methods=["POST"])
def start(quiz_id: int):
    quiz = _quiz_for(current_user, quiz_id)
    with atomic():  # kept even when the start below is refused
        quizzes.close_expired(current_user.id, quiz)
    try:
        with atomic():
            attempt = quizzes.start_attempt(current_user, quiz)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("quizzes.intro", quiz_id=quiz_id))
    return redirect(url_for("quizzes.take", attempt_id=attempt.id))


@bp.route("/attempts/<int:attempt_id>")
def take(attempt_id: int):
    attempt = quizzes.get_attempt(current_user, attempt_id)
    if attempt.submitted_at is not None or not quizzes.is_open(attempt):
        return redirect(url_for("quizzes.result", attempt_id=attempt.id))
    return render_template(
        "school/quiz_take.html",
        attempt=attempt,
        quiz=attempt.quiz,
        questions=quizzes.public_questions(attempt),
        saved=attempt.answers or {},
    )


@bp.route("/attempts/<int:attempt_id>/answer", methods=["POST"])
def answer(attempt_id: int):
    """Autosave one answer: JSON {"question": "q1", "options": ["q1o2", ...]} → {"saved": true}."""
    attempt = quizzes.get_attempt(current_user, attempt_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        body = {"question": request.form.get("question"), "options": request.form.getlist("options")}
    with atomic():
        quizzes.save_answer(current_user, attempt, body.get("question"), body.get("options"))
    return jsonify(saved=True)


def _form_answers() -> dict[str, list[str]]:
    return {key: request.form.getlist(key) for key in request.form if _ANSWER_KEY.fullmatch(key)}


@bp.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
def submit(attempt_id: int):
    attempt = quizzes.get_attempt(current_user, attempt_id)
    try:
        with atomic():
            quizzes.submit_attempt(current_user, attempt, _form_answers())
    except quizzes.Conflict as error:
        flash(error.message, "error")
    return redirect(url_for("quizzes.result", attempt_id=attempt_id))


@bp.route("/attempts/<int:attempt_id>/result")
def result(attempt_id: int):
    attempt = quizzes.get_attempt(current_user, attempt_id)
    if attempt.submitted_at is None:
        if quizzes.is_open(attempt):
            return redirect(url_for("quizzes.take", attempt_id=attempt.id))
        with atomic():
            quizzes.close_expired(attempt.user_id, attempt.quiz)
    return render_template(
        "school/quiz_result.html",
        attempt=attempt,
        quiz=attempt.quiz,
        rows=quizzes.result_view(attempt),
        facts=quizzes.summary(current_user, attempt.quiz) if attempt.user_id == current_user.id else None,
    )


# --- admin: questions ------------------------------------------------------------------------


def _bank_arg() -> qb.Bank | None:
    return qb.Bank.parse(request.form.get("bank") or request.args.get("bank"))


def _question_input() -> qb.QuestionInput:
    form = request.form
    kind = form.get("kind", "")
    options = [form.get(f"option_{i}", "") for i in range(qb.MAX_OPTIONS)]
    if kind == QuestionKind.truefalse.value:
        correct = [0] if form.get("tf_answer") == "true" else [1] if form.get("tf_answer") == "false" else []
    else:
        correct = [int(v) for v in form.getlist("correct") if v in {str(i) for i in range(qb.MAX_OPTIONS)}]
    return qb.QuestionInput(
        kind, form.get("stem", ""), options, correct, form.get("explanation", ""), form.get("difficulty", "")
    )


@admin_bp.route("/")
def index():
    bank = _bank_arg()
    banks = qb.bank_choices(current_user)
    if bank is None and banks:
        bank = next((qb.Bank.parse(key) for key, _, count in banks if count), qb.Bank.parse(banks[0][0]))
    difficulty = request.args.get("difficulty", "")
    questions = (
        qb.list_questions(
            current_user,
            bank,
            kind=request.args.get("kind"),
            difficulty=int(difficulty) if difficulty in ("1", "2", "3") else None,
            include_retired=request.args.get("retired") == "1",
        )
        if bank
        else []
    )
    return render_template(
        "school/quiz_bank.html",
        banks=banks,
        bank=bank,
        questions=questions,
        kinds=QuestionKind.choices(),
        difficulties=qb.DIFFICULTY_LABELS,
        args=request.args,
    )


def _question_page(question: Question | None, bank: qb.Bank | None):
    status = 200
    if request.method == "POST":
        try:
            with atomic():
                if question is None:
                    saved = qb.create_question(current_user, bank, _question_input())
                else:
                    saved = qb.update_question(current_user, question, _question_input())
                key = qb.Bank.of(saved).key
        except DomainError as error:
            flash(error.message, "error")
            status = 400
        else:
            flash("题目已保存。", "success")
            return redirect(url_for("quiz_admin.index", bank=key))
    return render_template(
        "school/quiz_question_form.html",
        question=question,
        bank=bank,
        banks=qb.bank_choices(current_user),
        kinds=QuestionKind.choices(),
        difficulties=qb.DIFFICULTY_LABELS,
        form=request.form,
        max_options=qb.MAX_OPTIONS,
    ), status


@admin_bp.route("/new", methods=["GET", "POST"])
def new():
    return _question_page(None, _bank_arg())


@admin_bp.route("/<int:question_id>/edit", methods=["GET", "POST"])
def edit(question_id: int):
    question = get_or_404(Question, question_id, "题目不存在。")
    return _question_page(question, qb.Bank.of(question))


def _set_active(question_id: int, active: bool) -> Response:
    question = get_or_404(Question, question_id, "题目不存在。")
    try:
        with atomic():
            qb.set_active(current_user, question, active)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash("题目已恢复。" if active else "题目已停用，不会再被抽到。", "success")
    return redirect(url_for("quiz_admin.index", bank=qb.Bank.of(question).key))


@admin_bp.route("/<int:question_id>/retire", methods=["POST"])
def retire(question_id: int):
    return _set_active(question_id, False)


@admin_bp.route("/<int:question_id>/restore", methods=["POST"])
def restore(question_id: int):
    return _set_active(question_id, True)


@admin_bp.route("/import", methods=["GET", "POST"])
def import_file():
    bank, errors, status = _bank_arg(), [], 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            errors, status = ["请选择要导入的 CSV 或 XLSX 文件。"], 400
        else:
            try:
                with atomic():
                    done = question_io.import_questions(
                        current_user, bank, upload.filename, upload.read(question_io.MAX_BYTES + 1)
                    )
            except question_io.ImportFailed as error:
                errors, status = error.errors, 400
            except DomainError as error:
                errors, status = [error.message], 400
            else:
                flash(f"已导入 {done.created} 道题目。", "success")
                return redirect(url_for("quiz_admin.index", bank=bank.key))
    return render_template(
        "school/quiz_import.html",
        bank=bank,
        banks=qb.bank_choices(current_user),
        errors=errors,
        required=question_io.REQUIRED_COLUMNS,
        columns=question_io.EXPORT_COLUMNS,
    ), status


@admin_bp.route("/export")
def export():
    bank = qb.require_bank(_bank_arg())
    if request.args.get("format") == "xlsx":
        data = question_io.export_xlsx(current_user, bank)
        mimetype, name = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
    else:
        data, mimetype, name = question_io.export_csv(current_user, bank), "text/csv; charset=utf-8", "csv"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=questions-{bank.key}.{name}"
    return response


# --- admin: quizzes --------------------------------------------------------------------------


@admin_bp.route("/quizzes")
def quiz_list():
    return render_template("school/quiz_admin_list.html", quizzes=quizzes.list_quizzes(current_user))


def _quiz_fields() -> dict:
    form = request.form
    bank = qb.Bank.parse(form.get("bank"))
    course_id = id_arg(form.get("course_id"))
    ids = [int(x) for x in re.findall(r"[0-9]{1,9}", form.get("question_ids", ""))]
    return {
        "title": form.get("title", ""),
        "course_id": course_id or (bank.course_id if bank else None),
        "category_id": bank.category_id if bank else None,
        "mode": form.get("mode", ""),
        "draw": {d: form.get(f"draw_{d}", "") for d in ("1", "2", "3")},
        "question_ids": ids,
        "time_limit_minutes": form.get("time_limit_minutes", ""),
        "max_attempts": form.get("max_attempts", ""),
        "pass_mark": form.get("pass_mark", ""),
        "published": form.get("published") == "1",
    }


def _quiz_page(quiz: Quiz | None):
    status = 200
    if request.method == "POST":
        try:
            with atomic():
                quizzes.configure(current_user, quiz, **_quiz_fields())
        except DomainError as error:
            flash(error.message, "error")
            status = 400
        else:
            flash("测试已保存。", "success")
            return redirect(url_for("quiz_admin.quiz_list"))
    courses = list(db.session.scalars(select(Course).order_by(Course.year.desc(), Course.id)))
    return render_template(
        "school/quiz_admin_form.html",
        quiz=quiz,
        form=request.form,
        courses=courses,
        banks=qb.bank_choices(current_user),
        modes=QuizMode.choices(),
        difficulties=qb.DIFFICULTY_LABELS,
    ), status


@admin_bp.route("/quizzes/new", methods=["GET", "POST"])
def quiz_new():
    return _quiz_page(None)


@admin_bp.route("/quizzes/<int:quiz_id>/edit", methods=["GET", "POST"])
def quiz_edit(quiz_id: int):
    return _quiz_page(get_or_404(Quiz, quiz_id, "测试不存在。"))
