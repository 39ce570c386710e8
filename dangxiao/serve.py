"""Development/one-machine server: Flask-SocketIO so websockets work from day one."""

from __future__ import annotations

import os

from flask import Flask


def serve(app: Flask, host: str | None = None, port: int | None = None) -> None:
    from dangxiao.extensions import socketio

    socketio.run(
        app,
        host=host or os.environ.get("DANGXIAO_HOST", "127.0.0.1"),
        port=int(port or os.environ.get("DANGXIAO_PORT", "5000")),
        allow_unsafe_werkzeug=True,
        use_reloader=False,
    )
