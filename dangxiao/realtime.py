"""Socket.IO event handlers, each registered with the access check it needs.

Socket.IO events never pass the before-request access table, so every handler is
declared through :func:`on`, which names its check — the same rules as the access
table (``public``, ``login``, ``role:<name>``) or a policy action (``"policy:<action>"``,
asked with ``dangxiao.policy.can`` for the current user). A refused ``connect`` is
rejected; a refused event gets an error acknowledgement and the handler never runs.
Domain errors raised by a handler (``policy.require`` for object-level checks) come
back to the client as ``{"error": {"code", "message"}}``.

Handlers are collected at import time and bound to each app's Socket.IO server in
:func:`init_app`; ``tests/dangxiao/test_realtime.py`` fails on any handler on the
server that did not come through here (the Socket.IO twin of the url_map test).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask_login import current_user

from dangxiao.access import LOGIN, PUBLIC, VALID_RULES
from dangxiao.accounts.permissions import has_role
from dangxiao.errors import DomainError
from dangxiao.extensions import socketio
from dangxiao.policy import can

POLICY_PREFIX = "policy:"
MARK = "_dangxiao_access"


@dataclass(frozen=True)
class Handler:
    event: str
    namespace: str
    access: str
    fn: Callable[..., Any]


_HANDLERS: dict[tuple[str, str], Handler] = {}


def allowed(access: str) -> bool:
    """The check named by `access`, for the user of the current Socket.IO request."""
    if access == PUBLIC:
        return True
    if not current_user.is_authenticated:
        return False
    if access == LOGIN:
        return True
    if access.startswith("role:"):
        return has_role(current_user, access[5:])
    if access.startswith(POLICY_PREFIX):
        return can(current_user, access[len(POLICY_PREFIX) :])
    return False


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def on(event: str, *, access: str, namespace: str = "/") -> Callable:
    """Declare a Socket.IO handler together with its access check."""
    if access not in VALID_RULES and not access.startswith(POLICY_PREFIX):
        raise ValueError(f"unknown access check {access!r} for Socket.IO event {event!r}")
    if (namespace, event) in _HANDLERS:
        raise ValueError(f"Socket.IO handler for {event!r} on {namespace} is already registered")

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def guarded(*args: Any) -> Any:
            if not allowed(access):
                if event == "connect":
                    return False
                return error(
                    "forbidden" if current_user.is_authenticated else "login_required",
                    "您没有权限执行此操作。" if current_user.is_authenticated else "请先登录。",
                )
            try:
                return fn(*args)
            except DomainError as exc:
                if event == "connect":
                    return False
                return error(exc.code, exc.message)

        setattr(guarded, MARK, access)
        _HANDLERS[(namespace, event)] = Handler(event, namespace, access, guarded)
        return guarded

    return decorator


def handlers() -> list[Handler]:
    return list(_HANDLERS.values())


def init_app(app: Flask) -> None:
    """Bind every declared handler to this app's Socket.IO server (made by socketio.init_app).

    With a server present, ``socketio.on`` registers on it directly, keeping Flask-SocketIO's
    own dispatch (request context, session, current_user) around our guard.
    """
    for handler in _HANDLERS.values():
        socketio.on(handler.event, namespace=handler.namespace)(handler.fn)


def unguarded(server: Any) -> list[tuple[str, str]]:
    """(namespace, event) of handlers on `server` that did not come through :func:`on`."""
    return sorted(
        (namespace, event)
        for namespace, events in server.handlers.items()
        for event, fn in events.items()
        if not getattr(fn, MARK, None)
    )
