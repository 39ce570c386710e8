"""Live Q&A benchmark: one approved question fanned out to 1,000 Socket.IO clients, on one server
process and on two sharing Redis, and the sustained rate of approved questions with 1,000 watching.

Run from the repository root: ``python bench/live_qa.py``. Prints one figure per line on stdout
(``name = value unit``); progress notes go to stderr. About two minutes on 2 cores.

The servers are real processes started the way the README deploys the Socket.IO tier:
gunicorn's gevent worker, one worker per process (``gunicorn -k gevent -w 1 --worker-connections
2200 wsgi:app``); ``BENCH_LIVE_WORKER=gthread`` runs the threaded worker instead (``--threads
1100``: in Flask-SocketIO's threading mode every open websocket holds one server thread, so the
pool must exceed the sockets a process serves) for comparison. ``DANGXIAO_SOCKETIO_MESSAGE_QUEUE``
= a Redis started here for the two-process figure; one SQLite file migrated once. The viewers are
anonymous (what a projector or a lecture-hall audience is) on a public session, over websocket:
by default the official socket.io client in one Node process (``bench/live_viewers.mjs``, npm's
``socket.io-client`` from package.json), which leaves most of the two cores to the server;
``BENCH_LIVE_VIEWERS=python`` uses python-socketio ``AsyncClient`` s in this process instead
(they need about one core themselves, which the figures then include). The host is one logged-in
python-socketio client. Times are ``time.time()`` in both, one clock.

- ``live_qa.fanout_1000.p99``: the host emits "approve" for a pending question; for each of the
  1,000 viewers, the time from that emit to the question's arrival (one clock),
  over ROUNDS questions (goal ≤ 250 ms). It includes the approval's own database write.
- ``live_qa.fanout_2proc_redis.p99``: the same with 500 viewers on each of two processes; the
  host is on the first, so half the deliveries cross Redis (goal ≤ 300 ms).
- ``live_qa.questions_per_second``: the host approves questions back to back (a few in flight)
  for BENCH_SECONDS with 1,000 viewers on one process; questions delivered to every viewer per
  second, from the first emit to the last delivery (none may be missing: the run fails if one is).
- ``live_qa.questions_checked``: how many questions that check covered (each on every viewer).
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import socketio  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_LIVE_CLIENTS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "8"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
VIEWERS = os.environ.get("BENCH_LIVE_VIEWERS", "node")  # "python": python-socketio clients in this process
NODE = shutil.which("node") or "node"
WORKER = os.environ.get("BENCH_LIVE_WORKER", "gevent")  # "gthread": threads, one per open websocket
IN_FLIGHT = 4  # approvals the host has sent and not yet had acknowledged
THREADS = CLIENTS + 100  # one per open websocket, plus room for page requests
CONNECT_AT_ONCE = 50
PASSWORD = "bench-password-1"  # noqa: S105 — generated data only
SECRET = "bench-live-qa-secret"  # noqa: S105 — a throwaway instance
NS = "/live"


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


# --- the instance ------------------------------------------------------------------------------


def prepare(instance: Path, questions: int) -> tuple[int, list[int]]:
    """Migrate the SQLite file, make a host, a member and a live public session whose `questions`
    pending questions the host will approve. Returns (session id, question ids)."""
    from flask_migrate import upgrade

    from dangxiao import create_app
    from dangxiao.accounts import services
    from dangxiao.db_types import utcnow
    from dangxiao.extensions import db
    from dangxiao.policy import SYSTEM
    from dangxiao.transactions import atomic
    from forum.live import questions as live_questions
    from forum.live.models import Audience, LiveHost, LiveSession, SessionStatus

    app = create_app(
        {
            "SECRET_KEY": SECRET,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'live.db'}",
            "INSTANCE_PATH": str(instance),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "LIVE_ASK_RATE": "1000000 per second",  # the seeding member asks them all at once
        }
    )
    with app.app_context():
        upgrade()
        with atomic():
            host, member = (
                services.create_user(
                    SYSTEM, services.NewUser(username=name, password=PASSWORD), roles=[("member", None)]
                )
                for name in ("bench_host", "bench_member")
            )
            session = LiveSession(
                title="基准测试答疑",
                status=SessionStatus.live,
                audience=Audience.public,
                starts_at=utcnow() - timedelta(minutes=1),
                started_at=utcnow(),
                created_by_id=host.id,
            )
            session.hosts = [LiveHost(user_id=host.id)]
            db.session.add(session)
            db.session.flush()
            session_id = session.id
            ids = [
                live_questions.ask(member, session_id, f"第 {n} 个问题：支部学习安排在什么时候？").id
                for n in range(questions)
            ]
        db.session.remove()
        db.engine.dispose()
    return session_id, ids


def server_env(instance: Path, redis_url: str | None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DANGXIAO_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        DANGXIAO_INSTANCE_PATH=str(instance),
        DANGXIAO_DATABASE_URL=f"sqlite:///{instance / 'live.db'}",
        DANGXIAO_SECRET_KEY=SECRET,
        DANGXIAO_LIVE_VOTE_RATE="1000000 per minute",
    )
    if redis_url:
        env.update(DANGXIAO_SOCKETIO_MESSAGE_QUEUE=redis_url, REDIS_URL=redis_url)
    return env


def server_command(fd: int) -> list[str]:
    """gevent: every socket a greenlet; gthread: every websocket holds one of --threads (plus two
    more threads of its own), so emitting to 1,000 sockets is 1,000 thread hand-offs."""
    command = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", "1"]
    if WORKER == "gevent":
        command += ["-k", "gevent", "--worker-connections", str(2 * THREADS)]
    else:
        command += ["--threads", str(THREADS), "--worker-connections", str(2 * THREADS)]
    return [*command, "--bind", f"fd://{fd}", "wsgi:app"]


@contextmanager
def server(env: dict[str, str], log: Path) -> Iterator[str]:
    """A server process on a loopback socket bound here (requests wait in its queue while it boots)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            server_command(listener.fileno()), cwd=ROOT, env=env, stdout=out, stderr=out, pass_fds=(listener.fileno(),)
        )
    listener.close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)  # quick shutdown
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def redis() -> Iterator[str]:
    from tests.support.redis_server import redis_server

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("bench/live_qa.py needs redis-server (make system-deps)")
    with redis_server(binary) as url:
        yield url


def login_cookie(base: str, username: str) -> str:
    """A Cookie header for `username`, logged in as a browser would (CSRF token from the page)."""
    http = requests.Session()
    page = http.get(f"{base}/accounts/login", timeout=120)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
    reply = http.post(
        f"{base}/accounts/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    if reply.status_code != 302:
        raise SystemExit(f"bench login failed: {reply.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


# --- the clients -------------------------------------------------------------------------------


class Viewers:
    """Many anonymous viewers; each approved question's arrival times (``time.time()`` seconds,
    one per viewer) are kept per question."""

    def __init__(self) -> None:
        self.arrivals: dict[int, list[float]] = {}  # question id → arrival times (one per viewer)
        self.complete: dict[int, asyncio.Event] = {}
        self.target = 0

    def expect(self, question_id: int) -> asyncio.Event:
        return self.complete.setdefault(question_id, asyncio.Event())

    def _arrived(self, question_id: int, times: list[float]) -> None:
        seen = self.arrivals.setdefault(question_id, [])
        seen.extend(times)
        if len(seen) >= self.target:
            self.expect(question_id).set()


class PythonViewers(Viewers):
    """python-socketio ``AsyncClient`` s in this process (``BENCH_LIVE_VIEWERS=python``)."""

    def __init__(self) -> None:
        super().__init__()
        self.clients: list[socketio.AsyncClient] = []

    def _received(self, payload: dict) -> None:
        now = time.time()
        question = payload.get("question") if isinstance(payload, dict) else None
        if question and question.get("status") == "approved":
            self._arrived(question["id"], [now])

    async def connect(self, targets: list[tuple[str, int]], session_id: int) -> None:
        gate = asyncio.Semaphore(CONNECT_AT_ONCE)
        self.target = sum(count for _base, count in targets)

        async def one(base: str) -> None:
            client = socketio.AsyncClient(reconnection=False)
            client.on("live_event", self._received, namespace=NS)
            async with gate:
                await client.connect(base, namespaces=[NS], transports=["websocket"], wait_timeout=60)
                reply = await client.call("join", {"session_id": session_id}, namespace=NS, timeout=60)
            if not reply.get("ok"):
                raise SystemExit(f"join refused: {reply}")
            self.clients.append(client)

        await asyncio.gather(*(one(base) for base, count in targets for _ in range(count)))

    async def close(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)
        self.clients.clear()


class NodeViewers(Viewers):
    """The official socket.io client in one Node process (``bench/live_viewers.mjs``), the default."""

    def __init__(self) -> None:
        super().__init__()
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task | None = None

    async def connect(self, targets: list[tuple[str, int]], session_id: int) -> None:
        args = [f"{base}={count}" for base, count in targets]
        self.proc = await asyncio.create_subprocess_exec(
            NODE, str(ROOT / "bench" / "live_viewers.mjs"), str(session_id), *args,
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 24,
        )  # fmt: skip
        line = (await asyncio.wait_for(self.proc.stdout.readline(), timeout=300)).decode()
        if not line.startswith("ready "):
            raise SystemExit(f"the Node viewers did not start: {line!r} (exit {await self.proc.wait()})")
        self.target = int(line.split()[1])
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.proc.stdout:
            kind, qid, rest = raw.decode().split()
            if kind == "dup":
                raise SystemExit(f"question {qid} reached viewer {rest} twice")
            self._arrived(int(qid), [float(t) / 1000 for t in rest.split(",")])

    async def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            await self.proc.wait()
            await self.reader


def make_viewers() -> Viewers:
    return NodeViewers() if VIEWERS == "node" else PythonViewers()


async def host_client(base: str, session_id: int) -> socketio.AsyncClient:
    cookie = await asyncio.to_thread(login_cookie, base, "bench_host")
    host = socketio.AsyncClient(reconnection=False)
    await host.connect(base, headers={"Cookie": cookie}, namespaces=[NS], transports=["websocket"], wait_timeout=60)
    reply = await host.call("join", {"session_id": session_id}, namespace=NS, timeout=60)
    if not reply.get("state", {}).get("is_host"):
        raise SystemExit(f"the bench host is not a host: {reply}")
    return host


async def approve(host: socketio.AsyncClient, qid: int) -> None:
    reply = await host.call("approve", {"question_id": qid}, namespace=NS, timeout=60)
    if not reply.get("ok"):
        raise SystemExit(f"approve {qid} failed: {reply}")


async def fanout(viewers: Viewers, host: socketio.AsyncClient, ids: list[int]) -> list[float]:
    """Latencies (ms) of ROUNDS approvals, one at a time, each waited for on every viewer."""
    latencies: list[float] = []
    for qid in ids:
        done = viewers.expect(qid)
        start = time.time()
        await approve(host, qid)
        await asyncio.wait_for(done.wait(), timeout=60)
        latencies.extend((t - start) * 1000 for t in viewers.arrivals[qid])
    return latencies


async def sustained(viewers: Viewers, host: socketio.AsyncClient, ids: list[int]) -> tuple[float, int]:
    """Approve back to back for SECONDS; (questions delivered to every viewer per second, questions)."""
    queue = iter(ids)
    sent: list[int] = []
    start = time.time()
    deadline = start + SECONDS

    async def lane() -> None:
        for qid in queue:
            if time.time() >= deadline:
                return
            viewers.expect(qid)
            sent.append(qid)
            await approve(host, qid)

    await asyncio.gather(*(lane() for _ in range(IN_FLIGHT)))
    if len(sent) >= len(ids):
        note(f"# all {len(ids)} seeded questions were approved before {SECONDS} s: raise the seed")
    try:
        await asyncio.wait_for(asyncio.gather(*(viewers.complete[q].wait() for q in sent)), timeout=120)
    except TimeoutError:
        missing = {q: viewers.target - len(viewers.arrivals.get(q, [])) for q in sent}
        lost = {q: n for q, n in missing.items() if n}
        raise SystemExit(f"questions lost: {len(lost)} of {len(sent)} not delivered to every viewer: {lost}") from None
    finished = max(max(viewers.arrivals[q]) for q in sent)
    for qid in sent:  # every viewer got every question exactly once
        assert len(viewers.arrivals[qid]) == viewers.target, (qid, len(viewers.arrivals[qid]))
    return len(sent) / (finished - start), len(sent)


# --- the runs ----------------------------------------------------------------------------------


async def one_process(instance: Path, session_id: int, ids: list[int]) -> tuple[float, float, int]:
    with server(server_env(instance, None), instance / "server-1.log") as base:
        host = await host_client(base, session_id)
        audience = make_viewers()
        started = time.perf_counter()
        await audience.connect([(base, CLIENTS)], session_id)
        note(f"# {audience.target} viewers connected to one process in {time.perf_counter() - started:.1f} s")
        latencies = await fanout(audience, host, ids[:ROUNDS])
        note(f"# fan-out to {audience.target}: median {statistics.median(latencies):.0f} ms over {ROUNDS} questions")
        rate, checked = await sustained(audience, host, ids[ROUNDS:])
        await audience.close()
        await host.disconnect()
    return p99(latencies), rate, checked


async def two_processes(instance: Path, session_id: int, ids: list[int]) -> float:
    with redis() as url:
        env = server_env(instance, url)
        with server(env, instance / "server-a.log") as a, server(env, instance / "server-b.log") as b:
            host = await host_client(a, session_id)
            audience = make_viewers()
            started = time.perf_counter()
            await audience.connect([(a, CLIENTS // 2), (b, CLIENTS - CLIENTS // 2)], session_id)
            note(f"# {audience.target} viewers on two processes in {time.perf_counter() - started:.1f} s")
            latencies = await fanout(audience, host, ids)
            note(f"# fan-out over Redis: median {statistics.median(latencies):.0f} ms over {len(ids)} questions")
            await audience.close()
            await host.disconnect()
    return p99(latencies)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    try:
        instance = tmp / "instance"
        instance.mkdir()
        seeded = 2 * ROUNDS + max(200, int(SECONDS * 100))
        note(f"# server: {' '.join(server_command(3)[2:])}")
        note(f"# preparing the instance: {seeded} pending questions …")
        session_id, ids = prepare(instance, seeded)
        fan_ids, rest = ids[:ROUNDS], ids[ROUNDS:]
        redis_ids, qps_ids = rest[:ROUNDS], rest[ROUNDS:]

        fan_p99, rate, checked = asyncio.run(one_process(instance, session_id, fan_ids + qps_ids))
        print(f"live_qa.fanout_1000.p99 = {fan_p99:.0f} ms", flush=True)
        redis_p99 = asyncio.run(two_processes(instance, session_id, redis_ids))
        print(f"live_qa.fanout_2proc_redis.p99 = {redis_p99:.0f} ms", flush=True)
        print(f"live_qa.questions_per_second = {rate:.1f}", flush=True)
        print(f"live_qa.questions_checked = {checked}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
