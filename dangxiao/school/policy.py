"""School policy rules (see dangxiao.policy): views, the player API and the CLI ask these."""

from __future__ import annotations

from typing import Any

from dangxiao.accounts.models import Role
from dangxiao.accounts.permissions import has_role
from dangxiao.policy import rule
from dangxiao.school import visibility


@rule("school.manage")
def manage(actor: Any, _obj: Any = None) -> bool:
    """Build the catalogue, banks, quizzes and credit rules: admins."""
    return visibility.is_school_admin(actor)


@rule("school.view_course")
def view_course(actor: Any, course: Any) -> bool:
    return visibility.may_view_course(actor, course)


@rule("school.watch_lesson")
def watch_lesson(actor: Any, lesson: Any) -> bool:
    return visibility.may_watch_lesson(actor, lesson)


@rule("school.report_branch")
def report_branch(actor: Any, branch_id: Any) -> bool:
    """Read a branch's report: a secretary whose scope covers it, or an admin."""
    return branch_id is not None and has_role(actor, Role.branch_secretary, int(branch_id))


@rule("school.credit_member")
def credit_member(actor: Any, member: Any) -> bool:
    """Enter offline credits or corrections for a member: a secretary whose scope covers their branch."""
    branch_id = getattr(member, "branch_id", None)
    return branch_id is not None and has_role(actor, Role.branch_secretary, branch_id)


@rule("school.take_quiz")
def take_quiz(actor: Any, quiz: Any) -> bool:
    """Take a quiz: course quizzes follow the course's visibility, category quizzes any active member."""
    from dangxiao.school import quizzes  # late: quizzes imports the policy machinery

    return quizzes.may_take(actor, quiz)
