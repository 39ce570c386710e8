"""Configuration order, production guards, /healthz and the migrations."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from dangxiao import create_app
from dangxiao.extensions import db


def test_healthz_reports_the_database(client, backend):
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.get_json()
    assert data["status"] == "ok"
    assert data["checks"]["database"] == {"ok": True, "backend": backend}


def test_healthz_reports_a_broken_database(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none",
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["ok"] is False


def test_production_refuses_the_default_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="DANGXIAO_SECRET_KEY"):
        create_app({"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)})


def test_production_refuses_debug(tmp_path):
    with pytest.raises(RuntimeError, match="DEBUG"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": "x" * 40, "DEBUG": True, "INSTANCE_PATH": str(tmp_path)})


def test_production_sets_secure_cookie_flags(tmp_path):
    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "x" * 40, "INSTANCE_PATH": str(tmp_path)})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_HTTPONLY"]


def test_config_order_defaults_instance_file_env_then_mapping(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text('SITE_NAME = "来自实例文件"\nLOGIN_RATE_LIMIT = "1 per day"\n')
    assert create_app({"INSTANCE_PATH": str(tmp_path)}).config["SITE_NAME"] == "来自实例文件"
    monkeypatch.setenv("DANGXIAO_SITE_NAME", "来自环境变量")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SITE_NAME"] == "来自环境变量"
    assert app.config["LOGIN_RATE_LIMIT"] == "1 per day"
    assert create_app({"INSTANCE_PATH": str(tmp_path), "SITE_NAME": "映射"}).config["SITE_NAME"] == "映射"


def test_relative_sqlite_path_lives_in_instance(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/dangxiao.db"


def test_database_url_env_selects_postgresql_driver(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_redis_url_moves_rate_limits_to_redis(tmp_path, monkeypatch):
    monkeypatch.setenv("DANGXIAO_REDIS_URL", "redis://127.0.0.1:6379/0")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"


def test_sqlite_runs_with_foreign_keys_and_wal(ctx, backend):
    if backend != "sqlite":
        pytest.skip("SQLite pragmas only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_migrations_go_down_and_up_again(ctx):
    from flask_migrate import downgrade, upgrade

    assert {"users", "branches", "user_roles"} <= set(inspect(db.engine).get_table_names())
    downgrade(revision="base")
    db.session.remove()
    assert "users" not in inspect(db.engine).get_table_names()
    upgrade()
    assert {"users", "branches", "user_roles"} <= set(inspect(db.engine).get_table_names())


def test_models_match_the_migrations(ctx):
    """Autogenerate against the migrated database finds nothing: no schema change without a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from dangxiao.search.models import include_object

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_a_savepoint_first_in_a_unit_of_work_does_not_commit_it_early(ctx):
    """SAVEPOINT as the first write, then a rollback: nothing of the unit may remain (both backends)."""
    from sqlalchemy import select

    from dangxiao.accounts.models import Branch, BranchKind

    with db.session.begin_nested():
        db.session.add(Branch(name="临时支部", kind=BranchKind.branch, region_code=""))
    db.session.rollback()
    assert db.session.scalar(select(Branch).where(Branch.name == "临时支部")) is None
