"""Home-page odds and ends: /healthz details only for admins and this machine, /favicon.ico, site.js."""

from __future__ import annotations

import os

import pytest

from dangxiao import create_app
from dangxiao.extensions import db

OUTSIDE = "203.0.113.7"  # TEST-NET-3: a visitor somewhere on the internet


@pytest.fixture
def visitor(client):
    """The test client, seen as coming from outside (Flask's default is 127.0.0.1)."""
    client.environ_base["REMOTE_ADDR"] = OUTSIDE
    return client


def assert_details(data: dict) -> None:
    assert data["status"] == "ok"
    checks = data["checks"]
    assert checks["database"]["ok"] is True
    assert {"pending"} <= set(checks["queue"])
    assert isinstance(checks["media"]["free_bytes"], int)


def test_anonymous_visitor_sees_only_the_status(visitor):
    response = visitor.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_member_sees_only_the_status(visitor, auth, create_user):
    create_user("zhangsan")
    auth.login("zhangsan")
    assert visitor.get("/healthz").get_json() == {"status": "ok"}


def test_admin_sees_the_checks(visitor, auth, create_user):
    create_user("boss", roles=["admin"])
    auth.login("boss")
    response = visitor.get("/healthz")
    assert response.status_code == 200
    assert_details(response.get_json())


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_this_machine_sees_the_checks(client, address):
    response = client.get("/healthz", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200
    assert_details(response.get_json())


@pytest.mark.parametrize("header", ["X-Forwarded-For", "X-Real-IP", "Forwarded"])
def test_loopback_through_an_untrusted_proxy_is_not_local(client, header):
    """nginx on the same machine without TRUSTED_PROXIES: every visitor arrives from 127.0.0.1."""
    response = client.get("/healthz", headers={header: OUTSIDE})
    assert response.get_json() == {"status": "ok"}


def test_trusted_proxy_gives_the_real_client_address(app_config, client):
    app = create_app({**app_config, "TRUSTED_PROXIES": 1})
    via_nginx = app.test_client().get("/healthz", headers={"X-Forwarded-For": OUTSIDE})
    assert via_nginx.get_json() == {"status": "ok"}
    with app.app_context():  # a second engine on the test database: close it before it is dropped
        db.session.remove()
        db.engine.dispose()


def test_broken_database_is_503_without_details_for_visitors(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none",
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    client = app.test_client()
    response = client.get("/healthz", environ_base={"REMOTE_ADDR": OUTSIDE})
    assert response.status_code == 503
    assert response.get_json() == {"status": "error"}
    local = client.get("/healthz")
    assert local.status_code == 503
    assert local.get_json()["checks"]["database"]["ok"] is False


def test_favicon_is_an_icon(visitor):
    response = visitor.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype.startswith("image/")
    assert response.data[:4] == b"\x00\x00\x01\x00"  # ICO header
    assert len(response.data) < 16 * 1024
    assert "max-age" in response.headers["Cache-Control"]
    again = visitor.get("/favicon.ico", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and not again.data  # a browser that has it gets nothing more
    response.close()
    svg = visitor.get("/static/favicon.svg")
    assert svg.status_code == 200
    assert svg.mimetype == "image/svg+xml"
    svg.close()


def test_every_page_links_the_icon_and_site_js(visitor):
    for path in ("/", "/accounts/login", "/no-such-page"):
        html = visitor.get(path).get_data(as_text=True)
        assert '<link rel="icon" href="/favicon.ico"' in html, path
        assert '<script src="/static/js/site.js" defer></script>' in html, path
    js = visitor.get("/static/js/site.js")
    assert js.status_code == 200
    assert b"window.dx" in js.data
    js.close()


# --- `make run`: server and worker stop together on Ctrl-C, and make ends with status 0 ------

CHILD = """
import os, signal, sys, time
name, code = sys.argv[1], int(sys.argv[2])
def stop(signum, frame):
    print(f"{name} got {signal.Signals(signum).name}", flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
print(f"{name} ready", flush=True)
if code:
    sys.exit(code)
while True:
    time.sleep(0.1)
"""


def supervise_command(tmp_path, server_exit: int = 0) -> list[str]:
    """A Python command line running dangxiao.serve.supervise over two stand-in children."""
    import sys

    child = tmp_path / "child.py"
    child.write_text(CHILD)
    code = (
        "import sys; from dangxiao.serve import supervise; "
        f"sys.exit(supervise([sys.executable, {str(child)!r}, 'server', '{server_exit}'], "
        f"[sys.executable, {str(child)!r}, 'worker', '0'], worker_grace=2, server_grace=2))"
    )
    return [sys.executable, "-c", code]


def read_until(fd: int, needle: bytes, timeout: float = 20) -> bytes:
    import select
    import time

    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the terminal's other side closed
                break
    return seen


def test_ctrl_c_in_a_terminal_stops_server_and_worker_and_make_exits_0(tmp_path):
    """A real make in a real terminal (pty): Ctrl-C must not reach make, or make dies of SIGINT."""
    import pty
    import shlex
    import subprocess

    from tests.support.binaries import require

    make, setsid = require("make"), require("setsid")
    (tmp_path / "Makefile").write_text(f"run:\n\t@{shlex.join(supervise_command(tmp_path))}\n")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [setsid, "--ctty", make, "-f", str(tmp_path / "Makefile"), "run"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=os.getcwd(),
    )
    os.close(slave)
    try:
        output = read_until(master, "按 Ctrl-C".encode())
        assert b"server ready" in output + read_until(master, b"server ready", 5)
        os.write(master, b"\x03")  # the terminal turns this into SIGINT for its foreground group
        assert proc.wait(timeout=20) == 0
        output = read_until(master, b"worker got SIGINT", 5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"server got SIGINT" in output
    assert b"worker got SIGINT" in output
    assert b"Error" not in output and b"Interrupt" not in output


def test_stop_signal_stops_both_children(tmp_path):
    import signal
    import subprocess

    proc = subprocess.Popen(
        supervise_command(tmp_path), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, cwd=os.getcwd()
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "按 Ctrl-C" in "".join(lines) and "server ready" in "".join(lines):
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    rest = proc.stdout.read()
    proc.stdout.close()
    assert "server got SIGINT" in rest and "worker got SIGINT" in rest


def test_a_crashing_server_stops_the_worker_and_reports_its_status(tmp_path):
    import subprocess

    result = subprocess.run(
        supervise_command(tmp_path, server_exit=3),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        cwd=os.getcwd(),
    )
    assert result.returncode == 3
    assert "worker got SIGINT" in result.stdout


def test_listen_address_follows_the_environment(monkeypatch):
    from dangxiao.serve import browse_url, listen_address

    monkeypatch.delenv("DANGXIAO_HOST", raising=False)
    monkeypatch.delenv("DANGXIAO_PORT", raising=False)
    assert listen_address() == ("127.0.0.1", 5000)
    monkeypatch.setenv("DANGXIAO_HOST", "0.0.0.0")  # noqa: S104
    monkeypatch.setenv("DANGXIAO_PORT", "8080")
    assert listen_address() == ("0.0.0.0", 8080)  # noqa: S104
    assert browse_url(*listen_address()) == "http://127.0.0.1:8080"
    assert browse_url("::1", 5001) == "http://[::1]:5001"
    monkeypatch.setenv("DANGXIAO_PORT", "http")
    with pytest.raises(SystemExit, match="DANGXIAO_PORT"):
        listen_address()
