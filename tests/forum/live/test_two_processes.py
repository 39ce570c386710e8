"""Scale-out: two real server processes share a live session through Redis.

Two gunicorn processes started the way the README deploys the Socket.IO tier (``gunicorn -k
gevent -w 1 wsgi:app`` per process, ``DANGXIAO_SOCKETIO_MESSAGE_QUEUE`` = Redis), one SQLite file
migrated once (a copy of the suite's template, built by the migrations as ``flask db upgrade`` runs
them), one SECRET_KEY. A member logged in over HTTP connects to
A (long-polling, as a client behind a proxy that blocks websockets would), the host to B
(websocket): the question asked on A reaches the host on B, and the host's approval on B reaches
the member on A. Each server gets a socket this test bound and listens on (``--bind fd://``): no
free-port race, and requests made before the worker is up wait in the listen queue (no polling).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "correct-horse-1"
SECRET = "two-processes-shared-secret"
WAIT = 15  # seconds an event may take before the test fails (it takes milliseconds)


def server_env(instance: Path, redis_url: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DANGXIAO_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        DANGXIAO_INSTANCE_PATH=str(instance),
        DANGXIAO_DATABASE_URL=f"sqlite:///{instance / 'live.db'}",
        DANGXIAO_SECRET_KEY=SECRET,
        DANGXIAO_SOCKETIO_MESSAGE_QUEUE=redis_url,
        REDIS_URL=redis_url,  # rate limits shared by both processes too
        DANGXIAO_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
    )
    return env


def seed(env: dict[str, str]) -> tuple[int, str, str]:
    """A host, a member and a live members-only session, written through the services."""
    from datetime import timedelta

    from dangxiao import create_app
    from dangxiao.accounts import services
    from dangxiao.db_types import utcnow
    from dangxiao.extensions import db
    from dangxiao.policy import SYSTEM
    from dangxiao.transactions import atomic
    from forum.live.models import Audience, LiveHost, LiveSession, SessionStatus

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["DANGXIAO_DATABASE_URL"],
            "INSTANCE_PATH": env["DANGXIAO_INSTANCE_PATH"],
            "SECRET_KEY": SECRET,
            "PASSWORD_HASH_METHOD": env["DANGXIAO_PASSWORD_HASH_METHOD"],
        }
    )
    with app.app_context():
        with atomic():
            users = [
                services.create_user(
                    SYSTEM, services.NewUser(username=name, password=PASSWORD), roles=[("member", None)]
                )
                for name in ("tp_host", "tp_member")
            ]
            session = LiveSession(
                title="跨进程答疑",
                status=SessionStatus.live,
                audience=Audience.members,
                starts_at=utcnow() - timedelta(minutes=1),
                started_at=utcnow(),
                created_by_id=users[0].id,
            )
            session.hosts = [LiveHost(user_id=users[0].id)]
            db.session.add(session)
            db.session.flush()
            session_id = session.id
        db.engine.dispose()
    return session_id, "tp_host", "tp_member"


@contextmanager
def gunicorn(env: dict[str, str], log: Path) -> Iterator[str]:
    """One server process as the README deploys it, on a loopback socket bound here."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--no-control-socket",
        "-k",
        "gevent",
        "-w",
        "1",
        "--worker-connections",
        "200",
    ]
    command += ["--bind", f"fd://{listener.fileno()}", "wsgi:app"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out, pass_fds=(listener.fileno(),))
    listener.close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: open websockets need no grace
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def login(base: str, username: str):
    """A requests session with the login cookie, the way a browser gets it (CSRF token from the page)."""
    import requests

    http = requests.Session()
    page = http.get(f"{base}/accounts/login", timeout=60)  # waits in the listen queue while the worker boots
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
    reply = http.post(
        f"{base}/accounts/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=WAIT,
    )
    assert reply.status_code == 302, reply.text[:500]
    return http


class Listener:
    """A python-socketio client on "/live" that hands each live_event to waiters."""

    def __init__(self, http, base: str, transport: str):
        import socketio

        self.events: list[dict] = []
        self._waiters: list[tuple[object, threading.Event, list]] = []
        self._lock = threading.Lock()
        self.client = socketio.Client(http_session=http, reconnection=False)
        self.client.on("live_event", self._on_event, namespace="/live")
        self.client.connect(base, namespaces=["/live"], transports=[transport], wait_timeout=WAIT)
        assert self.client.transport() == transport

    def _on_event(self, payload: dict) -> None:
        with self._lock:
            self.events.append(payload)
            for match, done, box in self._waiters:
                if not done.is_set() and match(payload):
                    box.append(payload)
                    done.set()

    def call(self, event: str, data: dict) -> dict:
        return self.client.call(event, data, namespace="/live", timeout=WAIT)

    def wait_for(self, match) -> dict:
        done, box = threading.Event(), []
        with self._lock:
            for payload in self.events:
                if match(payload):
                    return payload
            self._waiters.append((match, done, box))
        assert done.wait(WAIT), f"no matching live_event within {WAIT}s; got {self.events}"
        return box[0]

    def close(self) -> None:
        self.client.disconnect()


def test_a_question_crosses_two_server_processes_through_redis(tmp_path, redis_url, sqlite_template):
    pytest.importorskip("websocket", reason="python-socketio's websocket transport needs websocket-client")
    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copyfile(sqlite_template, instance / "live.db")
    env = server_env(instance, redis_url)
    with gunicorn(env, tmp_path / "a.log") as a, gunicorn(env, tmp_path / "b.log") as b:
        session_id, host_name, member_name = seed(env)  # while the servers boot
        member = Listener(login(a, member_name), a, "polling")
        host = Listener(login(b, host_name), b, "websocket")
        try:
            assert member.call("join", {"session_id": session_id})["state"]["is_host"] is False
            assert host.call("join", {"session_id": session_id})["state"]["is_host"] is True

            asked = member.call("ask", {"session_id": session_id, "text": "两个进程之间的问题能送达吗？"})
            qid = asked["question"]["id"]
            pending = host.wait_for(lambda e: e.get("question", {}).get("id") == qid)
            assert (pending["seq"], pending["question"]["status"]) == (1, "pending")
            assert pending["question"]["author"] == member_name

            assert host.call("approve", {"question_id": qid})["ok"]
            shown = member.wait_for(lambda e: e.get("question", {}).get("status") == "approved")
            assert (shown["seq"], shown["question"]["id"]) == (2, qid)

            # the member on A missed nothing: a resync through A lists both numbers it may see
            assert [e["seq"] for e in member.call("resync", {"session_id": session_id, "after": 0})["events"]] == [1, 2]
        finally:
            member.close()
            host.close()
