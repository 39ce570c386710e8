"""Small query helpers every package uses."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from dangxiao.errors import NotFound
from dangxiao.extensions import db

T = TypeVar("T")
# Primary keys are INTEGER: larger ids cannot exist, and on PostgreSQL the bound parameter is
# cast to INTEGER, so asking for one would be an "integer out of range" error, not a miss.
MAX_ID = 2**31 - 1


def get_or_404(model: type[T], ident: Any, message: str = "内容不存在或已被删除。") -> T:
    """The row with primary key `ident`, or the 404 domain error with `message`."""
    if isinstance(ident, bool) or not isinstance(ident, int) or not 0 < ident <= MAX_ID:
        raise NotFound(message)
    row = db.session.get(model, ident)
    if row is None:
        raise NotFound(message)
    return row


def id_arg(value: Any) -> int | None:
    """A query-string id (`?branch_id=`) as an int, or None when absent, malformed or out of range."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
        return number if 0 < number <= MAX_ID else None
    return None


def insert_ignore(model: Any) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING for the session's database (SQLite or PostgreSQL):
    races on a unique key are decided by the database, without an exception to catch."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model).on_conflict_do_nothing()


TOKEN_MAX = 64


def owned_by_token(model: type[T], token: Any, owner: str, owner_id: Any, message: str, code: str) -> T:
    """The row of `model` whose ``token`` is `token` and whose `owner` column is `owner_id`.

    Someone else's token, an unknown one and garbage are the same 404, so a token reveals
    nothing about other owners' rows. Read fresh (``populate_existing``): callers update the
    row's counters right after.
    """
    row = None
    if isinstance(token, str) and 0 < len(token) <= TOKEN_MAX:
        stmt = select(model).where(model.token == token).execution_options(populate_existing=True)
        row = db.session.scalars(stmt).first()
    if row is None or owner_id is None or getattr(row, owner) != owner_id:
        raise NotFound(message, code)
    return row
