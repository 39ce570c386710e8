"""Question banks, quizzes and attempts.

An attempt snapshots its questions and (shuffled) options with their answers, so editing
or deleting a bank question never changes a past attempt; the snapshot's answers never
leave the server before the attempt is submitted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dangxiao.db_types import LabelledEnum, str_enum, utcnow
from dangxiao.extensions import db


class QuestionKind(LabelledEnum):
    single = "single", "单选题"
    multiple = "multiple", "多选题"
    truefalse = "truefalse", "判断题"


class QuizMode(LabelledEnum):
    fixed = "fixed", "固定题目"
    random = "random", "随机抽题"


class Question(db.Model):
    """A bank question, filed under a category or a course (the bank is that scope)."""

    __tablename__ = "school_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("school_categories.id", ondelete="SET NULL"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("school_courses.id", ondelete="SET NULL"), index=True)
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind))
    stem: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text, default="")
    difficulty: Mapped[int] = mapped_column(default=1)  # 1 易, 2 中, 3 难
    # SHA-256 of the normalised stem: the same question twice in one bank is refused.
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    options: Mapped[list[QuestionOption]] = relationship(
        back_populates="question", cascade="all, delete-orphan", order_by="QuestionOption.position"
    )


class QuestionOption(db.Model):
    __tablename__ = "school_question_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("school_questions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(String(500))
    correct: Mapped[bool] = mapped_column(default=False)

    question: Mapped[Question] = relationship(back_populates="options")


class Quiz(db.Model):
    """A fixed list of questions or a random draw (`draw` = {"1": n, "2": n, "3": n} by difficulty)."""

    __tablename__ = "school_quizzes"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("school_courses.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("school_categories.id", ondelete="SET NULL"))
    mode: Mapped[QuizMode] = mapped_column(str_enum(QuizMode), default=QuizMode.fixed)
    draw: Mapped[dict[str, int] | None] = mapped_column(JSON)
    time_limit_seconds: Mapped[int | None]
    max_attempts: Mapped[int | None]
    pass_mark: Mapped[float] = mapped_column(Float, default=60.0)  # percent
    published: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    questions: Mapped[list[QuizQuestion]] = relationship(
        cascade="all, delete-orphan", order_by="QuizQuestion.position", passive_deletes=True
    )


class QuizQuestion(db.Model):
    __tablename__ = "school_quiz_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("school_quizzes.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("school_questions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)

    question: Mapped[Question] = relationship()

    __table_args__ = (UniqueConstraint("quiz_id", "question_id", name="uq_school_quiz_questions_quiz_question"),)


class QuizAttempt(db.Model):
    """One try at a quiz; `snapshot` holds its questions, options and answers as drawn."""

    __tablename__ = "school_quiz_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("school_quizzes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]  # 1, 2, … per member and quiz
    snapshot: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    score: Mapped[float | None] = mapped_column(Float)  # percent
    passed: Mapped[bool | None]

    quiz: Mapped[Quiz] = relationship()

    __table_args__ = (
        UniqueConstraint("quiz_id", "user_id", "number", name="uq_school_quiz_attempts_quiz_user_number"),
        Index("ix_school_quiz_attempts_quiz_user", "quiz_id", "user_id"),
    )
