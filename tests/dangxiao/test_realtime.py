"""Every Socket.IO handler names its access check (the Socket.IO twin of the url_map test)."""

from __future__ import annotations

import pytest

from dangxiao import realtime
from dangxiao.extensions import socketio


def test_every_socketio_handler_is_registered_with_an_access_check(app):
    assert socketio.server.handlers, "expected at least the notifications connect handler"
    assert realtime.unguarded(socketio.server) == []
    declared = {(h.namespace, h.event) for h in realtime.handlers()}
    on_server = {(ns, ev) for ns, events in socketio.server.handlers.items() for ev in events}
    assert declared == on_server


def test_a_handler_registered_around_the_decorator_is_caught(app):
    @socketio.on("sneaky")
    def sneaky(data):  # registered with Flask-SocketIO directly: no access check
        return "ok"

    assert realtime.unguarded(socketio.server) == [("/", "sneaky")]


def test_unknown_access_checks_and_duplicates_fail_at_declaration():
    with pytest.raises(ValueError, match="unknown access"):
        realtime.on("x", access="role:king")
    with pytest.raises(ValueError, match="already registered"):
        realtime.on("connect", access="login")


def test_guard_refuses_before_the_handler_runs(app, client, auth, create_user):
    """An event whose check fails gets the error shape and the handler body never runs."""
    ran = []
    guarded = realtime.on("test-admin-only", access="role:admin")(lambda data=None: ran.append(data) or "done")
    socketio.on("test-admin-only")(guarded)
    try:
        create_user("plainmember")
        auth.login("plainmember")
        sock = socketio.test_client(app, flask_test_client=client)
        reply = sock.emit("test-admin-only", {"x": 1}, callback=True)
        assert reply == {"error": {"code": "forbidden", "message": "您没有权限执行此操作。"}}
        assert ran == []
    finally:
        realtime._HANDLERS.pop(("/", "test-admin-only"), None)
