"""IPTV benchmark: the station catalogue served by gunicorn, against a hello-world route.

Run from the repository root: ``python bench/iptv.py``. Prints one figure per line on stdout
(``name = value unit``); progress notes go to stderr.

A temporary instance (SQLite, migrated with ``flask db upgrade``) gets 150 published courses
of 10 lessons each (1,500 lessons, asset rows marked ready, no files) and one receiving
station. gunicorn serves it the way the README deploys the pages tier (``-w 1 --threads 16``,
ENV_NAME=production) with ``bench/iptv_app.py``: the real app plus ``/bench/hello``. One
server, one run, autocannon (``-c 32 -d 10``) measures in turn: hello, the JSON catalogue
(``/api/tv/v1/catalog`` with X-Device-Key and ``Accept-Encoding: gzip`` as boxes send it; a
200 every time, the body from the feed cache), the same with ``If-None-Match`` (304), and
hello again; the hello figure is the mean of both hello runs (the machine may be shared).

- iptv.catalog_vs_hello.rps: catalogue requests/s ÷ hello requests/s (goal ≥ 0.8).
- iptv.catalog_304_vs_hello.rps: the conditional (304) requests/s ÷ hello (goal ≥ 0.9).
- iptv.catalog.p99: the catalogue's 99th percentile latency at 32 connections.

``BENCH_PROFILE=1`` also prints, on stderr, a cProfile of 2,000 in-process 304 requests (what
the hot path spends its time on). ``BENCH_DURATION`` changes the 10 seconds per run.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COURSES = 150
LESSONS_PER_COURSE = 10
CONNECTIONS = 32
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
CATALOG = "/api/tv/v1/catalog"
PROBE = "/bench/tv-probe"  # the core alone, when the JSON API is missing
HELLO = "/bench/hello"


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(instance: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DANGXIAO_INSTANCE_PATH=str(instance),
        DANGXIAO_DATABASE_URL=f"sqlite:///{instance / 'iptv.db'}",
        DANGXIAO_SECRET_KEY="bench-iptv-secret-key-not-for-production",  # noqa: S106 — throwaway instance
        DANGXIAO_ENV_NAME="production",
        PYTHONPATH=str(ROOT),
    )
    return env


def seed(env: dict[str, str]) -> str:
    """1,500 ready lessons in 150 open courses, one station; returns the station's key."""
    os.environ.update(env)
    from dangxiao import create_app
    from dangxiao.accounts.branches import create_branch
    from dangxiao.db_types import utcnow
    from dangxiao.extensions import db
    from dangxiao.policy import SYSTEM
    from dangxiao.school.models import Category, Course, Lesson
    from dangxiao.transactions import atomic
    from dangxiao.tv.devices import create_device
    from media.models import AssetStatus, MediaAsset

    app = create_app()
    with app.app_context():
        with atomic():
            categories = [Category(name=name, position=i) for i, name in enumerate(("理论学习", "党史", "乡村振兴"))]
            db.session.add_all(categories)
            now = utcnow()
            for n in range(1, COURSES + 1):
                course = Course(
                    title=f"基准课程{n}：学习贯彻“二十大”精神, 第{n}期",
                    summary="课程简介",
                    summary_html="<p>课程简介：<strong>重点</strong>内容。</p>",
                    teacher="讲师",
                    year=2026,
                    published=True,
                    published_at=now,
                    open_to_all=True,
                    credit_hours=5.0,
                    category=categories[n % len(categories)],
                )
                db.session.add(course)
                for position in range(1, LESSONS_PER_COURSE + 1):
                    asset = MediaAsset(
                        title=f"课件{n}-{position}",
                        original_filename=f"lesson{n}-{position}.mp4",
                        status=AssetStatus.ready,
                        duration=1800.0,
                        output_dir=f"assets/{n}-{position}/v00000001",
                        fallback_name="video.mp4",
                        has_video=True,
                        has_audio=True,
                        ready_at=now,
                    )
                    db.session.add(
                        Lesson(course=course, position=position, title=f"第{position}讲", asset=asset, duration=1800.0)
                    )
        with atomic():
            branch = create_branch(SYSTEM, "基准村党支部", "branch", None, "")
            _device, key = create_device(SYSTEM, "基准接收站", branch.id, village="基准村")
        lessons = db.session.query(Lesson).count()
        note(f"seeded {lessons} lessons in {COURSES} courses")
        if PROFILE:
            profile_hot_path(app, key)
        db.session.remove()
        db.engine.dispose()
    return key


def profile_hot_path(app, key: str) -> None:
    """cProfile of in-process conditional catalogue requests (the 304 path)."""
    client = app.test_client()
    path = CATALOG if client.get(CATALOG, headers={"X-Device-Key": key}).status_code == 200 else None
    if path is None:
        note("profile: no JSON catalogue in this app; profiling skipped")
        return
    etag = client.get(path, headers={"X-Device-Key": key}).headers["ETag"]
    headers = {"X-Device-Key": key, "If-None-Match": etag}
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(2000):
        client.get(path, headers=headers)
    profiler.disable()
    note(f"profile: {2000 / (time.perf_counter() - started):.0f} req/s in-process (test client, one thread)")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
    note(out.getvalue())


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(base + HELLO, timeout=2) as response:  # noqa: S310 — http://127.0.0.1 only
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer")


def fetch(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 — http://127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def autocannon(url: str, headers: dict[str, str]) -> dict:
    command = [str(ROOT / "node_modules/.bin/autocannon"), "-c", str(CONNECTIONS), "-d", str(DURATION), "--json"]
    for name, value in headers.items():
        command += ["-H", f"{name}={value}"]
    result = subprocess.run(command + [url], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    codes = report.get("statusCodeStats") or {}
    note(
        f"{url}: {report['requests']['average']:.0f} req/s, p99 {report['latency']['p99']} ms, "
        f"codes { ({code: stats['count'] for code, stats in codes.items()}) }, errors {report['errors']}"
    )
    return report


def main() -> None:
    if not (ROOT / "node_modules/.bin/autocannon").exists():
        raise SystemExit("node_modules/.bin/autocannon 不存在：请先运行 npm install")
    instance = Path(tempfile.mkdtemp(prefix="bench-iptv-"))
    env = environment(instance)
    server = None
    try:
        note("migrating: flask db upgrade")
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        key = seed(env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        # As README "Scaling out" deploys the pages tier (Socket.IO has gevent processes of its own).
        command = [gunicorn, "--no-control-socket", "-w", "1", "--threads", "16"]
        command += ["-b", f"127.0.0.1:{port}", "--pythonpath", str(ROOT)]
        server = subprocess.Popen([*command, "bench.iptv_app:app"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        wait_until_up(base, server)

        device = {"X-Device-Key": key, "Accept-Encoding": "gzip"}
        path = CATALOG
        status, headers, body = fetch(base + path, device)
        if status != 200:
            note(f"{CATALOG} answered {status}: measuring the core through {PROBE} instead")
            path = PROBE
            status, headers, body = fetch(base + path, device)
        assert status == 200, (status, body[:200])
        etag = headers["ETag"]
        assert fetch(base + path, {**device, "If-None-Match": etag})[0] == 304
        note(f"{path}: {len(body)} bytes ({headers.get('Content-Encoding', 'identity')}), ETag {etag}")

        hello_first = autocannon(base + HELLO, {})
        full = autocannon(base + path, device)
        conditional = autocannon(base + path, {**device, "If-None-Match": etag})
        hello_again = autocannon(base + HELLO, {})
        for report, code in ((full, "200"), (conditional, "304"), (hello_first, "200"), (hello_again, "200")):
            codes = report.get("statusCodeStats") or {}
            if set(codes) != {code} or report["errors"] or report["timeouts"]:
                raise SystemExit(f"unexpected answers: {codes}, errors {report['errors']}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(instance, ignore_errors=True)

    hello = (hello_first["requests"]["average"] + hello_again["requests"]["average"]) / 2
    print(f"iptv.hello.rps = {hello:.0f} req/s")
    print(f"iptv.catalog.rps = {full['requests']['average']:.0f} req/s")
    print(f"iptv.catalog_304.rps = {conditional['requests']['average']:.0f} req/s")
    print(f"iptv.catalog_vs_hello.rps = {full['requests']['average'] / hello:.2f} ratio")
    print(f"iptv.catalog_304_vs_hello.rps = {conditional['requests']['average'] / hello:.2f} ratio")
    print(f"iptv.catalog.p99 = {full['latency']['p99']} ms")


if __name__ == "__main__":
    main()
