"""网上党校 + 党建论坛: the application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.routing import IntegerConverter

from dangxiao import config as config_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BoundedInt(IntegerConverter):
    """`<int:...>` that only matches ids an INTEGER key can hold: larger ones are a 404, not a 500."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 — Werkzeug's signature
        from dangxiao.queries import MAX_ID

        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults → instance/config.py → DANGXIAO_* env → `config` mapping."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=(config or {}).get("INSTANCE_PATH")
        or os.environ.get("DANGXIAO_INSTANCE_PATH")
        or os.path.join(ROOT, "instance"),
        static_folder=os.path.join(ROOT, "static"),
        template_folder=os.path.join(ROOT, "templates"),
    )
    configure_app(app, config)
    check_settings(app)
    app.url_map.converters["int"] = BoundedInt
    configure_extensions(app)
    configure_security(app)
    configure_blueprints(app)
    configure_templates(app)
    configure_cli(app)
    return app


def check_settings(app: Flask) -> None:
    """Settings a package parses itself fail at startup, not on the first request that needs them."""
    from forum.helpdesk.sla import check_config

    check_config(app.config)


def configure_app(app: Flask, config: Mapping[str, Any] | None) -> None:
    app.config.from_object(config_module.Defaults)
    app.config.from_pyfile("config.py", silent=True)
    config_module.load_env(app.config)
    app.config.from_prefixed_env("DANGXIAO")
    if config:
        app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)
    config_module.finalise(app.config, app.instance_path)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL, enforced foreign keys and a busy timeout for every SQLite connection."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_begin_before_savepoint(conn, name) -> None:
    """pysqlite opens its transaction only before a write, never before a SAVEPOINT.

    A SAVEPOINT outside a transaction starts one that its RELEASE commits, so a savepoint
    that came first in a unit of work (`with db.session.begin_nested()`) would commit the
    whole unit early. Open the transaction first. (Reads before the first write stay outside
    a transaction, as pysqlite does them: a read snapshot held across a later write would
    make concurrent writers fail at once with "database is locked" in WAL mode.)
    """
    if conn.dialect.name != "sqlite":
        return
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN")


def configure_extensions(app: Flask) -> None:
    from dangxiao.accounts import models  # noqa: F401  (register tables with the metadata)
    from dangxiao.extensions import csrf, db, init_huey, limiter, login_manager, migrate, socketio
    from dangxiao.notifications import models as notification_models  # noqa: F401
    from dangxiao.school import credit_models, quiz_models  # noqa: F401
    from dangxiao.school import models as school_models  # noqa: F401
    from dangxiao.school.tasks import register_tasks as register_school_tasks
    from dangxiao.search import models as search_models  # noqa: F401
    from dangxiao.tv import models as tv_models  # noqa: F401
    from forum import models as forum_models  # noqa: F401
    from forum.helpdesk import models as helpdesk_models  # noqa: F401
    from forum.live import models as live_models  # noqa: F401
    from forum.moderation import models as moderation_models  # noqa: F401
    from media import models as media_models  # noqa: F401  (media tables, for migrations)
    from media.tasks import register_tasks

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE"),
        cors_allowed_origins=app.config.get("SOCKETIO_CORS_ORIGINS", []),
    )

    init_huey(app)  # the transcoding queue: SqliteHuey in instance/, or RedisHuey
    register_tasks(app)
    register_school_tasks(app)

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录。"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        from dangxiao.accounts import sessions

        return sessions.load(user_id)

    # Each domain's policy rules (dangxiao.policy) and Socket.IO handlers (dangxiao.realtime).
    from dangxiao import realtime
    from dangxiao.accounts import policy as accounts_policy  # noqa: F401
    from dangxiao.notifications import events, policy  # noqa: F401
    from dangxiao.school import search_sources as school_search  # noqa: F401  (search: course, lesson; hooks)
    from forum import board_admin, review  # noqa: F401  (forum.manage_boards; the "post" review kind)
    from forum import policy as forum_policy  # noqa: F401
    from forum import search_sources as forum_search  # noqa: F401  (search: topic, post, faq, help; hooks)
    from forum.helpdesk import policy as helpdesk_policy  # noqa: F401
    from forum.helpdesk import review as helpdesk_review  # noqa: F401  (the "help" and "help_msg" review kinds)
    from forum.live import policy as live_policy  # noqa: F401
    from forum.live import sockets as live_sockets  # noqa: F401  (the "/live" Socket.IO handlers)
    from forum.moderation import policy as moderation_policy  # noqa: F401

    realtime.init_app(app)


def configure_security(app: Flask) -> None:
    from dangxiao import access, assets, errors, security

    access.init_app(app)
    assets.init_app(app)
    security.init_app(app)
    errors.register_error_handlers(app)


def configure_blueprints(app: Flask) -> None:
    """Each package registers its blueprints together with their access rows."""
    from dangxiao import access, vendor
    from dangxiao.accounts import views as accounts
    from dangxiao.admin import views as admin
    from dangxiao.main import views as main
    from dangxiao.school import register_blueprints as register_school
    from dangxiao.search import views as search_views
    from dangxiao.tv import register as register_tv
    from forum import register_blueprints as register_forum
    from media.views import register_blueprints as register_media

    access.register(app, main.bp, main.ACCESS)
    access.register(app, accounts.bp, accounts.ACCESS)
    access.register(app, accounts.api, accounts.API_ACCESS)
    access.register(app, admin.bp, admin.ACCESS)
    register_school(app)
    access.register(app, vendor.bp, vendor.ACCESS)
    from dangxiao.notifications import views as notifications

    access.register(app, notifications.bp, notifications.ACCESS)
    access.register(app, notifications.api, notifications.API_ACCESS)
    register_forum(app)
    register_media(app)
    access.register(app, search_views.bp, search_views.ACCESS)
    register_tv(app)


def configure_templates(app: Flask) -> None:
    from flask_login import current_user

    from dangxiao import templating
    from dangxiao.accounts.models import Role
    from dangxiao.accounts.permissions import has_role

    templating.init_app(app)

    @app.context_processor
    def inject_helpers() -> dict[str, Any]:
        from dangxiao.notifications.service import unread_count

        return {
            "unread_notifications": (lambda: unread_count(current_user.id) if current_user.is_authenticated else 0),
            "has_role": lambda role, branch_id=None: has_role(current_user, role, branch_id),
            "Role": Role,
            "site_name": app.config.get("SITE_NAME", "网上党校 · 党建论坛"),
        }


def configure_cli(app: Flask) -> None:
    from dangxiao.cli import register_cli
    from dangxiao.school.cli import school_cli
    from dangxiao.search.cli import search_cli
    from dangxiao.tv.cli import devices_cli
    from forum.helpdesk.cli import helpdesk_cli
    from forum.moderation.cli import moderation_cli
    from media.cli import media_cli

    register_cli(app)
    app.cli.add_command(media_cli)
    app.cli.add_command(school_cli)
    app.cli.add_command(moderation_cli)
    app.cli.add_command(helpdesk_cli)
    app.cli.add_command(search_cli)
    app.cli.add_command(devices_cli)
