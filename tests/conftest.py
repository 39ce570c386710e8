"""Fixtures for every test: the app on SQLite *and* on a real PostgreSQL, clients, factories.

Each test database is built by running the real migrations once per backend into
a template (a SQLite file / a PostgreSQL template database) and cloning it per test.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dangxiao import create_app
from dangxiao.extensions import db, limiter
from tests.support import postgres
from tests.support.binaries import require

BACKENDS = ["sqlite", "postgresql"]
TEST_PASSWORD = "correct-horse-1"
_counter = itertools.count()


def base_config(tmp_path, uri: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "REGISTER_RATE_LIMIT": "1000 per minute",
        "RATELIMIT_STORAGE_URI": "memory://",
        # Hashing is not under test here; scrypt's 0.15 s per user and login adds minutes to the suite.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


def run_migrations(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer]:
    initdb = require("initdb", *postgres.PG_BIN_DIRS)
    pg_ctl = require("pg_ctl", *postgres.PG_BIN_DIRS)
    server = postgres.start(initdb, pg_ctl)
    yield server
    server.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_migrations(create_app(base_config(path.parent, f"sqlite:///{path}")))
    return str(path)


@pytest.fixture(scope="session")
def pg_template(pg_server, tmp_path_factory) -> str:
    pg_server.admin_execute("CREATE DATABASE dx_template")
    run_migrations(create_app(base_config(tmp_path_factory.mktemp("pg"), pg_server.url("dx_template"))))
    return "dx_template"


@pytest.fixture
def database_uri(request, backend, tmp_path) -> Iterator[str]:
    """A fresh, migrated database for one test on the parametrised backend."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template")
    name = f"dx_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    server.admin_execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
    yield server.url(name)
    server.admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def app_config(tmp_path, database_uri) -> dict:
    """Override in a test module (or extend via `app_config.update`) before `app` is built."""
    return base_config(tmp_path, database_uri)


@pytest.fixture
def app(app_config) -> Iterator[Flask]:
    app = create_app(app_config)
    app.test_client_class = CSRFClient
    limiter.reset()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app) -> Iterator[Flask]:
    """An app context for tests that call services directly."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app) -> CSRFClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class CSRFClient(FlaskClient):
    """A test client that sends the CSRF token a real browser would, read from a real page.

    Pass `csrf=False` to send none, or `csrf="..."` to send a specific (wrong) one.
    """

    def csrf_token(self) -> str:
        page = super().open("/", method="GET").get_data(as_text=True)
        match = _META_TOKEN.search(page)
        assert match, "home page must carry the csrf-token meta tag"
        return match.group(1)

    def open(self, *args, **kwargs):
        csrf = kwargs.pop("csrf", True)
        method = kwargs.get("method", "GET").upper()
        if method in {"POST", "PUT", "PATCH", "DELETE"} and csrf is not False:
            token = self.csrf_token() if csrf is True else csrf
            if kwargs.get("json") is not None:
                headers = dict(kwargs.get("headers") or {})
                headers.setdefault("X-CSRFToken", token)
                kwargs["headers"] = headers
            else:
                data = kwargs.get("data")
                data = dict(data) if data else {}
                data.setdefault("csrf_token", token)
                kwargs["data"] = data
        return super().open(*args, **kwargs)


class AuthActions:
    def __init__(self, client: CSRFClient):
        self._client = client

    def login(self, username: str, password: str = TEST_PASSWORD, remember: bool = False, **kw):
        data = {"username": username, "password": password}
        if remember:
            data["remember"] = "y"
        return self._client.post("/accounts/login", data=data, **kw)

    def logout(self):
        return self._client.post("/accounts/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def create_branch(app):
    """Factory: create_branch(name, kind="branch", parent=None, region_code="") -> id."""

    def make(name: str | None = None, kind: str = "branch", parent: int | None = None, region_code: str = ""):
        from dangxiao.accounts.branches import create_branch as service
        from dangxiao.policy import SYSTEM
        from dangxiao.transactions import atomic

        with app.app_context(), atomic():
            return service(SYSTEM, name or f"支部{next(_counter)}", kind, parent, region_code).id

    return make


@pytest.fixture
def create_user(app):
    """Factory: create_user(username, roles=("member",), branch=None, status="active") -> id.

    `roles` items are role names or (role, scope_branch_id) pairs.
    """

    def make(
        username: str | None = None,
        roles=("member",),
        branch: int | None = None,
        status: str = "active",
        password: str = TEST_PASSWORD,
        **fields,
    ) -> int:
        from dangxiao.accounts import services
        from dangxiao.policy import SYSTEM
        from dangxiao.transactions import atomic

        pairs = [(r, None) if isinstance(r, str) else tuple(r) for r in roles]
        with app.app_context(), atomic():
            user = services.create_user(
                SYSTEM,
                services.NewUser(
                    username=username or f"user{next(_counter)}",
                    password=password,
                    branch_id=branch,
                    **fields,
                ),
                roles=pairs,
            )
            if status != "active":
                services.set_status(SYSTEM, user, status)
            return user.id

    return make


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real redis-server started for this test session."""
    from tests.support.redis_server import redis_server

    with redis_server(require("redis-server")) as url:
        yield url
