"""Who may do what to which object: one question, asked the same way everywhere.

Each domain registers its rules (``dangxiao/accounts/policy.py``, ``media/policy.py``,
later the school, forum, help desk, live Q&A): a rule is ``fn(actor, obj) -> bool``
under an action name such as ``"user.approve"``. Views, Socket.IO handlers and CLI
commands all call :func:`can` / :func:`require`; services call :func:`require` with
the acting user they are given, so no entry point can walk around a rule. An action
nobody registered is refused (fail closed).

The CLI acts as :data:`SYSTEM`, an actor that passes every role check (it is the
operator at the server's shell), but still meets the services' own business rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dangxiao.errors import Forbidden

Rule = Callable[[Any, Any], bool]

_RULES: dict[str, Rule] = {}

DEFAULT_REFUSAL = "您没有权限执行此操作。"


class SystemActor:
    """The operator behind a CLI command or a background task."""

    id = None
    is_system = True
    is_authenticated = True
    is_active = True
    is_anonymous = False
    display_name = "系统"
    username = "system"
    roles: tuple = ()
    branch_id = None

    def __repr__(self) -> str:
        return "<SYSTEM>"


SYSTEM = SystemActor()


def is_system(actor: Any) -> bool:
    return getattr(actor, "is_system", False) is True


def rule(action: str) -> Callable[[Rule], Rule]:
    """Register `fn(actor, obj) -> bool` as the rule for `action` (one rule per action)."""

    def register(fn: Rule) -> Rule:
        if action in _RULES and _RULES[action] is not fn:
            raise ValueError(f"policy rule for {action!r} is already registered")
        _RULES[action] = fn
        return fn

    return register


def actions() -> set[str]:
    return set(_RULES)


def can(actor: Any, action: str, obj: Any = None) -> bool:
    """May `actor` do `action` (to `obj`)? Anonymous and inactive actors may not, unknown actions never."""
    fn = _RULES.get(action)
    if fn is None or actor is None:
        return False
    if not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        return False
    return bool(fn(actor, obj))


def require(actor: Any, action: str, obj: Any = None, message: str | None = None) -> None:
    """Raise the 403 domain error unless `can(actor, action, obj)`."""
    if not can(actor, action, obj):
        raise Forbidden(message or DEFAULT_REFUSAL, "forbidden")
