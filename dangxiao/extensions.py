"""Extension singletons; bound to an app in create_app via init_app."""

from __future__ import annotations

import os

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from huey import Huey, RedisHuey, SqliteHuey
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
socketio = SocketIO()
limiter = Limiter(key_func=get_remote_address)


# media: the job queue. One Huey per app (its storage comes from that app's config), so
# tests and several apps in one process never share a queue; tasks register on it.
def create_huey(app: Flask) -> Huey:
    """RedisHuey when a Redis URL is configured, else SqliteHuey in a file under instance/."""
    name = app.config.get("HUEY_NAME") or "dangxiao"
    redis_url = app.config.get("HUEY_REDIS_URL") or app.config.get("REDIS_URL")
    if redis_url:
        return RedisHuey(name, url=redis_url, results=False)
    path = app.config.get("HUEY_SQLITE_PATH") or os.path.join(app.instance_path, "huey.db")
    return SqliteHuey(name, filename=path, results=False)


def init_huey(app: Flask) -> None:
    app.extensions["huey"] = create_huey(app)
