"""The PostgreSQL engine: the jieba tokens in a generated tsvector (titles weight A, bodies B,
migration 0009) with a GIN index; ``to_tsquery('simple', …)`` matches, ts_rank_cd ranks.

The 'simple' configuration only lower-cases: the tokens were folded and segmented by the
service already, so the database adds no language rules of its own. The tsquery text comes
from ``text.tsquery`` (every operand quoted) and is bound as a parameter. Access tokens and
filters are in the same WHERE, so counts never include what the reader may not see.
Writes use their own short transaction, like the SQLite engine.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, delete, func, literal_column, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert

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
from dangxiao.search.text import tsquery

if TYPE_CHECKING:
    from dangxiao.search.text import ParsedQuery

TSV = literal_column("search_docs.tsv")


class PostgresBackend:
    name = "postgres"

    @property
    def total_limit(self) -> int:
        return max_matches()

    def upsert(self, docs: list[IndexedDoc]) -> None:
        if not docs:
            return
        latest = {item.key: item for item in docs}
        now = utcnow()
        stmt = pg_insert(SearchDoc)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "ref_id"],
            set_={name: stmt.excluded[name] for name in row_values(docs[0], now) if name not in ("kind", "ref_id")},
        )
        with db.engine.begin() as conn:
            for part in chunks(list(latest.values()), 1000):
                conn.execute(stmt, [row_values(item, now) for item in part])

    def delete(self, keys: list[tuple[str, int]]) -> None:
        if not keys:
            return
        with db.engine.begin() as conn:
            for part in chunks(list(keys)):
                conn.execute(delete(SearchDoc).where(tuple_(SearchDoc.kind, SearchDoc.ref_id).in_(part)))

    def prune(self, before: datetime) -> None:
        with db.engine.begin() as conn:
            conn.execute(delete(SearchDoc).where(SearchDoc.indexed_at < before))

    def clear(self) -> None:
        with db.engine.begin() as conn:
            conn.execute(delete(SearchDoc))

    def count(self) -> int:
        return db.session.scalar(select(func.count()).select_from(SearchDoc)) or 0

    def search(
        self, query: ParsedQuery, tokens: list[str], filters: Filters, sort: str, offset: int, limit: int
    ) -> tuple[int, dict[str, int], list[Hit]]:
        q = tsquery(query)
        if not q or not tokens:
            return 0, {}, []
        tsq = func.to_tsquery(text("'simple'::regconfig"), bindparam("q", q))
        matched = TSV.op("@@")(tsq)

        def window(*, with_kind: bool, scored: bool):
            # the GIN index finds the matches; only the newest max_matches() are counted and ranked
            return (
                select(
                    SearchDoc.id.label("id"),
                    SearchDoc.kind.label("kind"),
                    SearchDoc.created_at.label("created_at"),
                    (func.ts_rank_cd(TSV, tsq) if scored and sort != "date" else literal_column("0.0")).label("score"),
                )
                .where(matched, *filter_conditions(filters, tokens, with_kind=with_kind))
                .order_by(SearchDoc.id.desc())
                .limit(max_matches())
                .cte("w")
                .prefix_with("MATERIALIZED")
            )

        return windowed_search(window, func.json_object_agg, filters, sort, offset, limit, best_first=True)
