"""The default engine: SQLite FTS5 over the jieba tokens, bm25 ranking, no server.

``search_fts`` (migration 0009) holds each document's title and body tokens under rowid =
search_docs.id; unicode61 splits on the spaces the service put between jieba's tokens and keeps
CJK runs whole. A query is one statement: the FTS5 MATCH joined to search_docs, where the
access tokens and the filters apply, so totals and pages only count what the reader may see;
it walks the newest SEARCH_MAX_MATCHES matches once (bm25 ranks them, counts per kind come
from the same window). The MATCH string is built by ``text.fts5_match`` (every term quoted);
user text only ever travels as a bound parameter.

Writes run in their own short transaction on their own connection: the service calls them
after the unit of work committed (or outside one), never inside the request's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, column, delete, func, literal_column, select, table, text

from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.search.backends import (
    Filters,
    Hit,
    IndexedDoc,
    chunks,
    filter_conditions,
    max_matches,
    row_values,
    windowed_search,
)
from dangxiao.search.models import SearchDoc
from dangxiao.search.text import fts5_match

if TYPE_CHECKING:
    from dangxiao.search.text import ParsedQuery

FTS = table("search_fts", column("rowid"), column("title"), column("body"))
TITLE_WEIGHT = 10.0  # bm25 column weights: a match in a title counts ten times one in a body
BODY_WEIGHT = 1.0
_DELETE_FTS = text("DELETE FROM search_fts WHERE rowid IN :ids").bindparams(bindparam("ids", expanding=True))
_MATCH = text("search_fts MATCH :match")


_COLUMNS = (
    "kind",
    "ref_id",
    "access",
    "board_id",
    "category",
    "title",
    "body",
    "url",
    "created_at",
    "indexed_at",
    "title_tokens",
    "body_tokens",
)
# The bulk path hands the driver tuples (executemany): building SQLAlchemy parameters row by
# row cost as much as SQLite's own work. Fixed SQL; every value is bound.
_UPSERT = """
INSERT INTO search_docs (kind, ref_id, access, board_id, category, title, body, url, created_at, indexed_at,
                         title_tokens, body_tokens)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (kind, ref_id) DO UPDATE SET
    access = excluded.access, board_id = excluded.board_id, category = excluded.category,
    title = excluded.title, body = excluded.body, url = excluded.url, created_at = excluded.created_at,
    indexed_at = excluded.indexed_at, title_tokens = excluded.title_tokens, body_tokens = excluded.body_tokens
"""
_INSERT_FTS = "INSERT INTO search_fts (rowid, title, body) VALUES (?, ?, ?)"
_IDS = text("SELECT id, ref_id FROM search_docs WHERE kind = :kind AND ref_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


def _ids(conn, keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    by_kind: dict[str, list[int]] = {}
    for kind, ref_id in keys:
        by_kind.setdefault(kind, []).append(ref_id)
    found: dict[tuple[str, int], int] = {}
    for kind, ref_ids in by_kind.items():
        for part in chunks(ref_ids, 900):
            found.update({(kind, ref_id): id_ for id_, ref_id in conn.execute(_IDS, {"kind": kind, "ids": part})})
    return found


def _drop(conn, ids: list[int]) -> None:
    for part in chunks(ids):
        conn.execute(_DELETE_FTS, {"ids": part})
        conn.execute(delete(SearchDoc).where(SearchDoc.id.in_(part)))


class SqliteBackend:
    name = "sqlite"

    @property
    def total_limit(self) -> int:
        return max_matches()

    def upsert(self, docs: list[IndexedDoc]) -> None:
        if not docs:
            return
        latest = {item.key: item for item in docs}  # one row per key, the last one wins
        with db.engine.begin() as conn:
            # timestamps stored exactly as SQLAlchemy stores them, so date filters compare alike
            column_type = SearchDoc.__table__.c.created_at.type.dialect_impl(conn.dialect)
            stamp = column_type.bind_processor(conn.dialect) or (lambda value: value)
            now = stamp(utcnow())
            for part in chunks(list(latest.values()), 900):
                keys = [item.key for item in part]
                existing = _ids(conn, keys)
                if existing:  # their old tokens leave the FTS table (a fresh document has none)
                    conn.execute(_DELETE_FTS, {"ids": list(existing.values())})
                rows = []
                for item in part:
                    row = row_values(item, now)
                    row["created_at"] = stamp(row["created_at"])
                    rows.append(tuple(row[name] for name in _COLUMNS))
                conn.exec_driver_sql(_UPSERT, rows)
                ids = existing if len(existing) == len(keys) else _ids(conn, keys)
                conn.exec_driver_sql(
                    _INSERT_FTS,
                    [(ids[item.key], item.title_tokens, item.body_tokens) for item in part],
                )

    def delete(self, keys: list[tuple[str, int]]) -> None:
        if not keys:
            return
        with db.engine.begin() as conn:
            _drop(conn, list(_ids(conn, keys).values()))

    def prune(self, before: datetime) -> None:
        """Drop what a reindex did not rewrite (documents gone from every source)."""
        with db.engine.begin() as conn:
            _drop(conn, list(conn.scalars(select(SearchDoc.id).where(SearchDoc.indexed_at < before))))

    def clear(self) -> None:
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM search_fts"))
            conn.execute(delete(SearchDoc))

    def count(self) -> int:
        return db.session.scalar(select(func.count()).select_from(SearchDoc)) or 0

    def search(
        self, query: ParsedQuery, tokens: list[str], filters: Filters, sort: str, offset: int, limit: int
    ) -> tuple[int, dict[str, int], list[Hit]]:
        match = fts5_match(query)
        if not match or not tokens:
            return 0, {}, []
        matched = _MATCH.bindparams(match=match)
        joined = FTS.join(SearchDoc, SearchDoc.id == FTS.c.rowid)
        bm25 = func.bm25(literal_column("search_fts"), TITLE_WEIGHT, BODY_WEIGHT)

        def window(*, with_kind: bool, scored: bool):
            # FTS5 hands out matches in rowid order (oldest first): walking it backwards stops early
            return (
                select(
                    SearchDoc.id.label("id"),
                    SearchDoc.kind.label("kind"),
                    SearchDoc.created_at.label("created_at"),
                    (bm25 if scored and sort != "date" else literal_column("0.0")).label("score"),
                )
                .select_from(joined)
                .where(matched, *filter_conditions(filters, tokens, with_kind=with_kind))
                .order_by(FTS.c.rowid.desc())
                .limit(max_matches())
                .cte("w")
                .prefix_with("MATERIALIZED")
            )

        # bm25 is lower-is-better
        return windowed_search(window, func.json_group_object, filters, sort, offset, limit, best_first=False)
