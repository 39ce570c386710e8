"""Question banks: create, edit and retire questions (import/export lives in ``question_io``).

A bank is the set of questions filed under one course (``Question.course_id``) or, for
questions shared by many courses, one category (``Question.category_id`` with no course).
The same normalised stem twice in one bank is refused (``Question.fingerprint``); retired
questions stay in the table (past attempts keep their own snapshot anyway) but no longer
count as duplicates and are never drawn.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.queries import MAX_ID
from dangxiao.school.models import Category, Course
from dangxiao.school.quiz_models import Question, QuestionKind, QuestionOption
from dangxiao.text.clean import clean_block, clean_line

MIN_OPTIONS = 2
MAX_OPTIONS = 8
TRUE_FALSE_OPTIONS = ("正确", "错误")
DIFFICULTY_LABELS = {1: "易", 2: "中", 3: "难"}
STEM_MAX = 2000
OPTION_MAX = 500
EXPLANATION_MAX = 4000

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Bank:
    """Where a question is filed: a course bank or a category bank (exactly one id is set)."""

    course_id: int | None = None
    category_id: int | None = None

    @property
    def key(self) -> str:
        return f"course-{self.course_id}" if self.course_id else f"category-{self.category_id}"

    @classmethod
    def parse(cls, key: str | None) -> Bank | None:
        """``course-12`` / ``category-3`` (as used in query strings) → Bank, or None if malformed."""
        match = re.fullmatch(r"(course|category)-(\d{1,10})", key or "")
        if not match or not 0 < int(match.group(2)) <= MAX_ID:
            return None
        number = int(match.group(2))
        return cls(course_id=number) if match.group(1) == "course" else cls(category_id=number)

    @classmethod
    def of(cls, question: Question) -> Bank:
        return cls(course_id=question.course_id) if question.course_id else cls(category_id=question.category_id)

    def where(self) -> Any:
        """The SQL condition selecting this bank's questions."""
        if self.course_id:
            return Question.course_id == self.course_id
        return (Question.category_id == self.category_id) & Question.course_id.is_(None)

    def label(self) -> str:
        if self.course_id:
            course = db.session.get(Course, self.course_id)
            return f"课程：{course.title}" if course else "课程题库"
        category = db.session.get(Category, self.category_id) if self.category_id else None
        return f"分类：{category.name}" if category else "分类题库"


def require_bank(bank: Bank | None) -> Bank:
    """The bank must name an existing course or category."""
    if bank is None or bool(bank.course_id) == bool(bank.category_id):
        raise DomainError("请选择题库（课程或分类）。", "bank_invalid", "bank")
    model = Course if bank.course_id else Category
    if db.session.get(model, bank.course_id or bank.category_id) is None:
        raise DomainError("所选题库不存在。", "bank_invalid", "bank")
    return bank


def fingerprint(stem: str) -> str:
    """SHA-256 of the stem with width, case, spaces and punctuation folded away."""
    folded = _NOT_WORD.sub("", unicodedata.normalize("NFKC", stem).casefold())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


@dataclass
class QuestionInput:
    """A question as typed in a form or read from an import row (before validation)."""

    kind: Any
    stem: Any
    options: Sequence[Any]
    correct: Sequence[int]  # indexes into options
    explanation: Any = ""
    difficulty: Any = 1


@dataclass
class CleanQuestion:
    kind: QuestionKind
    stem: str
    options: list[str]
    correct: list[int]
    explanation: str
    difficulty: int
    fingerprint: str


def parse_kind(value: Any) -> QuestionKind:
    if isinstance(value, QuestionKind):
        return value
    try:
        return QuestionKind(value)
    except ValueError:
        raise DomainError("题型必须是单选题、多选题或判断题。", "kind_invalid", "kind") from None


def parse_difficulty(value: Any) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and value in DIFFICULTY_LABELS:
        return value
    if isinstance(value, str) and value.strip() in {"1", "2", "3"}:
        return int(value.strip())
    raise DomainError("难度必须是 1（易）、2（中）或 3（难）。", "difficulty_invalid", "difficulty")


def validate(data: QuestionInput) -> CleanQuestion:
    """One question's rules: option count, how many answers each kind needs, lengths."""
    kind = parse_kind(data.kind)
    stem = clean_block(data.stem, "stem", "题干", STEM_MAX)
    explanation = clean_block(data.explanation, "explanation", "解析", EXPLANATION_MAX, required=False)
    difficulty = parse_difficulty(data.difficulty)
    if kind is QuestionKind.truefalse:
        options = list(TRUE_FALSE_OPTIONS)
        raw_correct = list(data.correct)
    else:
        if any(not isinstance(i, int) or not 0 <= i < len(data.options) for i in data.correct):
            raise DomainError("答案必须是已有的选项。", "answer_invalid", "correct")
        options, raw_correct = [], []
        for index, raw in enumerate(data.options):
            text = clean_line(raw, "options", f"选项{chr(65 + index)}", OPTION_MAX, required=False)
            if text:
                if index in data.correct:
                    raw_correct.append(len(options))
                options.append(text)
            elif index in data.correct:
                raise DomainError(f"答案选项{chr(65 + index)}没有内容。", "answer_invalid", "correct")
        if len(options) < MIN_OPTIONS:
            raise DomainError(f"至少需要 {MIN_OPTIONS} 个选项。", "options_few", "options")
        if len(options) > MAX_OPTIONS:
            raise DomainError(f"最多 {MAX_OPTIONS} 个选项。", "options_many", "options")
        if len({fingerprint(o) for o in options}) != len(options):
            raise DomainError("选项内容不能重复。", "options_duplicate", "options")
    correct = sorted({i for i in raw_correct if isinstance(i, int) and 0 <= i < len(options)})
    if len(correct) != len(set(raw_correct)):
        raise DomainError("答案必须是已有的选项。", "answer_invalid", "correct")
    if kind is QuestionKind.multiple and len(correct) < 2:
        raise DomainError("多选题至少需要 2 个正确答案。", "answer_count", "correct")
    if kind is not QuestionKind.multiple and len(correct) != 1:
        raise DomainError(f"{kind.label}必须有且只有 1 个正确答案。", "answer_count", "correct")
    return CleanQuestion(kind, stem, options, correct, explanation, difficulty, fingerprint(stem))


def _short(stem: str, limit: int = 40) -> str:
    return stem if len(stem) <= limit else stem[:limit] + "…"


def duplicate_of(bank: Bank, print_: str, exclude_id: int | None = None) -> Question | None:
    stmt = select(Question).where(bank.where(), Question.fingerprint == print_, Question.active.is_(True))
    if exclude_id is not None:
        stmt = stmt.where(Question.id != exclude_id)
    return db.session.scalars(stmt.limit(1)).first()


def _refuse_duplicate(bank: Bank, clean: CleanQuestion, exclude_id: int | None = None) -> None:
    if duplicate_of(bank, clean.fingerprint, exclude_id) is not None:
        raise DomainError(f"题库中已有相同的题目：“{_short(clean.stem)}”。", "duplicate", "stem")


def _fill(question: Question, clean: CleanQuestion) -> None:
    question.kind = clean.kind
    question.stem = clean.stem
    question.explanation = clean.explanation
    question.difficulty = clean.difficulty
    question.fingerprint = clean.fingerprint
    question.options = [
        QuestionOption(position=i, text=text, correct=i in clean.correct) for i, text in enumerate(clean.options)
    ]


def add_clean(bank: Bank, clean: CleanQuestion) -> Question:
    """Store an already validated question (the importer checks duplicates itself)."""
    question = Question(course_id=bank.course_id, category_id=None if bank.course_id else bank.category_id)
    _fill(question, clean)
    db.session.add(question)
    return question


def create_question(actor: Any, bank: Bank | None, data: QuestionInput) -> Question:
    require(actor, "school.manage")
    bank = require_bank(bank)
    clean = validate(data)
    _refuse_duplicate(bank, clean)
    question = add_clean(bank, clean)
    db.session.flush()
    return question


def update_question(actor: Any, question: Question, data: QuestionInput) -> Question:
    """Edit in place: past attempts keep their snapshot, so nothing they show changes."""
    require(actor, "school.manage")
    clean = validate(data)
    _refuse_duplicate(Bank.of(question), clean, exclude_id=question.id)
    _fill(question, clean)
    db.session.flush()
    return question


def set_active(actor: Any, question: Question, active: bool) -> Question:
    """Retire (or restore) a question: retired ones are never drawn and do not block duplicates."""
    require(actor, "school.manage")
    if active and question.active is False:
        clean = CleanQuestion(question.kind, question.stem, [], [], "", 1, question.fingerprint)
        _refuse_duplicate(Bank.of(question), clean, exclude_id=question.id)
    question.active = active
    db.session.flush()
    return question


def list_questions(
    actor: Any,
    bank: Bank,
    *,
    kind: str | None = None,
    difficulty: int | None = None,
    include_retired: bool = False,
) -> list[Question]:
    """A bank's questions with their options (one query for the options, no N+1)."""
    require(actor, "school.manage")
    stmt = select(Question).where(bank.where()).options(selectinload(Question.options)).order_by(Question.id)
    if kind in QuestionKind._value2member_map_:
        stmt = stmt.where(Question.kind == QuestionKind(kind))
    if difficulty in DIFFICULTY_LABELS:
        stmt = stmt.where(Question.difficulty == difficulty)
    if not include_retired:
        stmt = stmt.where(Question.active.is_(True))
    return list(db.session.scalars(stmt))


def bank_choices(actor: Any) -> list[tuple[str, str, int]]:
    """(key, label, active question count) for every category and course, for the bank picker."""
    require(actor, "school.manage")
    counts: dict[str, int] = {}
    rows = db.session.execute(
        select(Question.course_id, Question.category_id, func.count())
        .where(Question.active.is_(True))
        .group_by(Question.course_id, Question.category_id)
    )
    for course_id, category_id, count in rows:
        key = Bank(course_id=course_id).key if course_id else Bank(category_id=category_id).key
        counts[key] = counts.get(key, 0) + count
    out = []
    for cat in db.session.scalars(select(Category).order_by(Category.position, Category.id)):
        key = Bank(category_id=cat.id).key
        out.append((key, f"分类：{cat.name}", counts.get(key, 0)))
    for course in db.session.scalars(select(Course).order_by(Course.year.desc(), Course.id)):
        key = Bank(course_id=course.id).key
        out.append((key, f"课程：{course.title}", counts.get(key, 0)))
    return out


def available_by_difficulty(bank: Bank) -> dict[int, int]:
    """How many active questions the bank holds at each difficulty (for random draws)."""
    rows = db.session.execute(
        select(Question.difficulty, func.count())
        .where(bank.where(), Question.active.is_(True))
        .group_by(Question.difficulty)
    )
    counts = dict.fromkeys(DIFFICULTY_LABELS, 0)
    counts.update({int(d): int(n) for d, n in rows})
    return counts
