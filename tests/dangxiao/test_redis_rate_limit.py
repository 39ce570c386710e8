"""With REDIS_URL set, login limits live in a real Redis (so every process shares them)."""

from __future__ import annotations

import pytest

from dangxiao import create_app
from tests.conftest import CSRFClient, base_config


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_login_limit_state_lives_in_redis(tmp_path, database_uri, redis_url):
    import redis

    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    config = base_config(tmp_path, database_uri)
    config.update(LOGIN_RATE_LIMIT="3 per minute", REDIS_URL=redis_url)
    config.pop("RATELIMIT_STORAGE_URI")
    app = create_app(config)
    app.test_client_class = CSRFClient
    assert app.config["RATELIMIT_STORAGE_URI"] == redis_url
    client = app.test_client()

    def attempt() -> int:
        return client.post("/accounts/login", data={"username": "x1", "password": "bad-pass"}).status_code

    assert [attempt() for _ in range(3)] == [401, 401, 401]
    assert attempt() == 429
    assert any(k.startswith(b"LIMITS") for k in store.keys())
    # The counter is Redis's, not this process's: clearing Redis lifts the limit.
    store.flushdb()
    assert attempt() == 401
