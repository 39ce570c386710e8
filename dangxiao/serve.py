"""Development/one-machine server: Flask-SocketIO so websockets work from day one.

`python wsgi.py` serves the site (:func:`serve`). `python -m dangxiao.serve` (what `make run`
runs) serves it with one transcoding worker beside it and stops both together (:func:`supervise`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from flask import Flask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 — to recognise them


def listen_address(host: str | None = None, port: int | str | None = None) -> tuple[str, int]:
    """Host and port from the arguments, else DANGXIAO_HOST / DANGXIAO_PORT, else 127.0.0.1:5000."""
    host = host or os.environ.get("DANGXIAO_HOST") or DEFAULT_HOST
    raw = port or os.environ.get("DANGXIAO_PORT") or DEFAULT_PORT
    try:
        number = int(raw)
    except (TypeError, ValueError):
        raise SystemExit(f"DANGXIAO_PORT 应为端口号（1–65535），而不是 {raw!r}") from None
    if not 0 < number < 65536:
        raise SystemExit(f"DANGXIAO_PORT 应为端口号（1–65535），而不是 {raw!r}")
    return host, number


def browse_url(host: str, port: int) -> str:
    """The address to open in a browser: a wildcard host is reached through loopback."""
    shown = WILDCARD_HOSTS.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def serve(app: Flask, host: str | None = None, port: int | None = None) -> None:
    from dangxiao.extensions import socketio
    from dangxiao.text import segment

    segment.warm_up()
    host, port = listen_address(host, port)
    wildcard = "（监听所有网卡）" if host in WILDCARD_HOSTS else ""
    print(f"服务地址: {browse_url(host, port)}{wildcard}", flush=True)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False)


# --- `make run`: the server and one worker, stopped together --------------------------------

SERVER_COMMAND = [sys.executable, os.path.join(ROOT, "wsgi.py")]
WORKER_COMMAND = [sys.executable, "-m", "flask", "--app", "wsgi", "media", "worker"]
#: Seconds the worker gets after the first SIGINT (Huey's graceful stop), then a second SIGINT
#: makes Huey stop at once; a job it could not hand back is re-queued by the next reaper.
WORKER_GRACE = 5.0
SERVER_GRACE = 5.0
#: Exit codes that mean "stopped by Ctrl-C / a stop signal", not "crashed".
STOPPED = {0, 130, 143, -signal.SIGINT, -signal.SIGTERM, -signal.SIGHUP}


def supervise(
    server_cmd: Sequence[str],
    worker_cmd: Sequence[str],
    *,
    cwd: str = ROOT,
    worker_grace: float = WORKER_GRACE,
    server_grace: float = SERVER_GRACE,
) -> int:
    """Run the server and the worker until Ctrl-C (or INT/TERM/HUP), stop both; 0 on a clean stop.

    Each child gets a process group of its own, and the server's group gets the terminal: Ctrl-C
    then reaches only the server (not `make`, which would otherwise die of SIGINT and report an
    error, nor ffmpeg under the worker, which would die in the middle of a transcode). When the server
    ends, the worker is asked to stop with SIGINT, like systemd's KillSignal=SIGINT would.
    A stop signal sent to this process (`kill`, make forwarding SIGTERM) stops both the same way.
    Returns the server's exit code when it ended by itself with an error.
    """
    stop_requested: list[int] = []

    def request_stop(signum, frame) -> None:
        stop_requested.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    worker = server = None
    restore_terminal: Callable[[], None] = _nothing
    try:
        worker = subprocess.Popen(list(worker_cmd), cwd=cwd, stdin=subprocess.DEVNULL, process_group=0)
        server = subprocess.Popen(list(server_cmd), cwd=cwd, stdin=subprocess.DEVNULL, process_group=0)
        restore_terminal = _give_terminal_to(server.pid)
        print("按 Ctrl-C 停止网站和转码工作进程。", flush=True)
        worker_reported = False
        while not stop_requested and server.poll() is None:
            if not worker_reported and worker.poll() is not None:
                worker_reported = True
                print(
                    f"转码工作进程已退出（状态 {worker.returncode}），网站继续运行；"
                    "另开终端运行 `make worker` 可重新启动它。",
                    file=sys.stderr,
                    flush=True,
                )
            time.sleep(0.2)
        _stop(server, server_grace, "网站")
        _stop(worker, worker_grace, "转码工作进程", second_interrupt=True)
    finally:
        for child in (server, worker):
            if child is not None:
                _kill_group(child)
        restore_terminal()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert server is not None
    if stop_requested or server.returncode in STOPPED:
        return 0
    return server.returncode if server.returncode > 0 else 1


def _nothing() -> None:
    pass


def _give_terminal_to(pgid: int) -> Callable[[], None]:
    """Make `pgid` the terminal's foreground group (when we hold the terminal); returns the undo."""
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd) or os.tcgetpgrp(fd) != os.getpgrp():
            return _nothing  # no terminal, or started in the background (`make run &`)
        ours = os.getpgrp()
    except (OSError, ValueError):
        return _nothing

    def set_foreground(group: int) -> None:
        # A background group changing the foreground gets SIGTTOU unless it is ignored.
        old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.tcsetpgrp(fd, group)
        except OSError:
            pass
        finally:
            signal.signal(signal.SIGTTOU, old)

    set_foreground(pgid)
    return lambda: set_foreground(ours)


def _stop(child: subprocess.Popen, grace: float, name: str, second_interrupt: bool = False) -> None:
    """SIGINT, then (optionally) a second SIGINT, then SIGTERM, each after `grace` seconds."""
    steps = [signal.SIGINT] + ([signal.SIGINT] if second_interrupt else []) + [signal.SIGTERM]
    for number, sig in enumerate(steps):
        if child.poll() is not None:
            return
        if number == 1:
            print(f"正在等待{name}结束……", file=sys.stderr, flush=True)
        try:
            child.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _kill_group(child: subprocess.Popen) -> None:
    """Whatever is left in the child's process group (an ffmpeg the worker left behind) goes too."""
    if child.poll() is None:
        child.kill()
        child.wait()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.5)


def main() -> int:
    return supervise(SERVER_COMMAND, WORKER_COMMAND)


if __name__ == "__main__":
    sys.exit(main())
