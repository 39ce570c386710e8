"""A throwaway PostgreSQL server for the test session (initdb + pg_ctl, no pytest plugin).

initdb refuses to run as root, so as root the binaries run as the `postgres`
user through runuser, in a directory that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass

PG_BIN_DIRS = ("/usr/lib/postgresql/*/bin",)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    datadir: str
    port: int
    pg_ctl: str
    as_user: str | None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin_execute(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            for statement in statements:
                conn.execute(statement)

    def stop(self) -> None:
        _run(self.as_user, [self.pg_ctl, "-D", self.datadir, "-m", "immediate", "stop"], check=False)
        shutil.rmtree(os.path.dirname(self.datadir), ignore_errors=True)


def _run(as_user: str | None, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
    if as_user:
        cmd = ["runuser", "-u", as_user, "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)


def start(initdb: str, pg_ctl: str) -> PostgresServer:
    """initdb into a fresh temp directory and start a server on a free loopback port."""
    as_user = None
    base = tempfile.mkdtemp(prefix="dangxiao-pg-")
    if os.geteuid() == 0:
        as_user = "postgres"
        pw = pwd.getpwnam(as_user)
        os.chmod(base, 0o700)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    datadir = os.path.join(base, "data")
    _run(as_user, [initdb, "-D", datadir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale"])
    port = free_port()
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    result = _run(
        as_user,
        [pg_ctl, "-D", datadir, "-o", options, "-l", os.path.join(base, "log"), "-w", "start"],
        check=False,
    )
    if result.returncode != 0:
        log = open(os.path.join(base, "log")).read() if os.path.exists(os.path.join(base, "log")) else ""
        raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{log}")
    return PostgresServer(datadir=datadir, port=port, pg_ctl=pg_ctl, as_user=as_user)
