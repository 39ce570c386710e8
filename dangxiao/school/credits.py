"""The 学时 ledger (interface; implemented in this issue by its owner).

The watch service and quizzes call these inside their own transaction (flush, never commit).
"""

from __future__ import annotations

from typing import Any


def lesson_completed(user_id: int, lesson: Any) -> None:
    """A member just completed `lesson` (≥ 95 % played): credit it once, and the course bonus
    (with a CourseCompletion row and a notification) when this finished the whole course."""


def quiz_passed(user_id: int, quiz: Any, attempt: Any) -> None:
    """A member's attempt passed `quiz`: credit the quiz pass bonus once per quiz."""
