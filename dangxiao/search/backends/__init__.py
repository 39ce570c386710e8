"""The one interface every search engine implements, and the choice of engine per app.

The service hands a backend documents already tokenised (jieba runs once, in Python, the same
way for every engine) and the reader's access tokens; the backend filters by those tokens
inside its own query, so totals, per-kind counts and pages never include what the reader may
not see. Which engine: SEARCH_BACKEND = auto (PostgreSQL's tsvector when the database is
PostgreSQL, else SQLite FTS5), sqlite, postgres or elasticsearch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app
from sqlalchemy import func, select

from dangxiao.db_types import aware
from dangxiao.extensions import db
from dangxiao.search import Doc
from dangxiao.search.models import SearchDoc
from dangxiao.templating import site_zone

if TYPE_CHECKING:
    from dangxiao.search.text import ParsedQuery

_EXTENSION = "dangxiao.search.backend"
#: The stored columns a hit shows (the SQL engines fetch them for one page only).
STORED = (
    SearchDoc.kind,
    SearchDoc.ref_id,
    SearchDoc.title,
    SearchDoc.body,
    SearchDoc.url,
    SearchDoc.created_at,
    SearchDoc.id,
)


@dataclass(frozen=True)
class IndexedDoc:
    """A document as stored: the original text (shown, highlighted) and its index tokens."""

    doc: Doc
    title_tokens: str
    body_tokens: str

    @property
    def key(self) -> tuple[str, int]:
        return (self.doc.kind, self.doc.ref_id)


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    board_id: int | None = None
    category: str | None = None
    date_from: date | None = None  # local dates (site TIMEZONE), both ends included
    date_to: date | None = None


@dataclass(frozen=True)
class Hit:
    kind: str
    ref_id: int
    title: str
    body: str
    url: str
    created_at: datetime
    score: float = 0.0


class Backend(Protocol):
    """`search` returns (total, count per kind, hits). `counts` ignore the kind filter (they label
    the per-type tabs), every other filter and the access tokens apply; `total` honours all.
    The SQL engines count and rank the newest SEARCH_MAX_MATCHES matches (see below).

    Optional: ``prune(before: datetime)`` removes documents not upserted since `before` (what
    a reindex did not see); a backend without it is cleared before a reindex instead.
    """

    name: str

    @property
    def total_limit(self) -> int | None:
        """Where this engine stops counting matches (None: totals are exact)."""
        ...

    def upsert(self, docs: list[IndexedDoc]) -> None: ...

    def delete(self, keys: list[tuple[str, int]]) -> None: ...

    def search(
        self, query: ParsedQuery, tokens: list[str], filters: Filters, sort: str, offset: int, limit: int
    ) -> tuple[int, dict[str, int], list[Hit]]: ...

    def count(self) -> int: ...

    def clear(self) -> None: ...


def backend_name(app=None) -> str:
    """The configured engine, "auto" resolved against the database in use."""
    app = app or current_app
    name = (app.config.get("SEARCH_BACKEND") or "auto").lower()
    if name == "auto":
        uri = str(app.config.get("SQLALCHEMY_DATABASE_URI") or "")
        return "postgres" if uri.startswith("postgresql") else "sqlite"
    if name not in {"sqlite", "postgres", "elasticsearch"}:
        raise RuntimeError(f"SEARCH_BACKEND must be auto, sqlite, postgres or elasticsearch, not {name!r}")
    return name


def make_backend(name: str, app=None) -> Backend:
    app = app or current_app
    if name == "sqlite":
        from dangxiao.search.backends.sqlite_fts import SqliteBackend

        return SqliteBackend()
    if name == "postgres":
        from dangxiao.search.backends.postgres import PostgresBackend

        return PostgresBackend()
    from dangxiao.search.backends.elastic import ElasticBackend  # the client is imported only when used

    url = app.config.get("SEARCH_ELASTICSEARCH_URL") or os.environ.get("ELASTICSEARCH_URL")
    if not url:
        raise RuntimeError("SEARCH_BACKEND = elasticsearch needs SEARCH_ELASTICSEARCH_URL or ELASTICSEARCH_URL")
    return ElasticBackend(url, app.config.get("SEARCH_INDEX_PREFIX") or "dangxiao")


def get_backend() -> Backend:
    """The current app's engine, built once per app (an Elasticsearch client keeps its connections)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    backend = app.extensions.get(_EXTENSION)
    if backend is None:
        backend = app.extensions[_EXTENSION] = make_backend(backend_name(app), app)
    return backend


def chunks(items: list, size: int = 500) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def date_bounds(filters: Filters) -> tuple[datetime | None, datetime | None]:
    """Local calendar days → UTC instants: [start of date_from, start of the day after date_to)."""
    zone = site_zone()

    def start(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)

    low = start(filters.date_from) if filters.date_from else None
    high = start(filters.date_to + timedelta(days=1)) if filters.date_to else None
    return low, high


def filter_conditions(filters: Filters, tokens: list[str], *, with_kind: bool = True) -> list:
    """WHERE terms over search_docs shared by the SQL engines: access first, then the filters."""
    conditions = [SearchDoc.access.in_(tokens)]
    if with_kind and filters.kind:
        conditions.append(SearchDoc.kind == filters.kind)
    if filters.board_id is not None:
        conditions.append(SearchDoc.board_id == filters.board_id)
    if filters.category:
        conditions.append(SearchDoc.category == filters.category)
    low, high = date_bounds(filters)
    if low is not None:
        conditions.append(SearchDoc.created_at >= low)
    if high is not None:
        conditions.append(SearchDoc.created_at < high)
    return conditions


def row_values(item: IndexedDoc, now: datetime) -> dict:
    """A search_docs row; the lengths the columns hold (PostgreSQL enforces them)."""
    doc = item.doc
    return {
        "kind": doc.kind,
        "ref_id": doc.ref_id,
        "access": doc.access[:40],
        "board_id": doc.board_id,
        "category": (doc.category or "")[:40],
        "title": doc.title[:300],
        "body": doc.body,
        "url": doc.url[:300],
        "created_at": doc.created_at,
        "indexed_at": now,
        "title_tokens": item.title_tokens,
        "body_tokens": item.body_tokens,
    }


#: How many matches a SQL engine looks at per query, newest first (SEARCH_MAX_MATCHES): totals
#: and per-kind counts stop there and relevance ranks within them. Exact below it; above it a
#: word is in so many documents that "2000+" says all a reader needs, and the newest of them
#: are the ones worth ranking. The cost of a query is then bounded whatever the index size
#: (walking matches and joining them to their access token is the work: ~30 ms for 2,000 on
#: SQLite). Elasticsearch stops counting at 10,000 by default for the same reason.
DEFAULT_MAX_MATCHES = 2_000


def max_matches() -> int:
    return int(current_app.config.get("SEARCH_MAX_MATCHES") or DEFAULT_MAX_MATCHES)


def _counts(value: Any) -> dict[str, int]:
    """A JSON object of counts per kind: text from SQLite, already decoded by psycopg."""
    if not value:
        return {}
    return {str(k): int(n) for k, n in (value if isinstance(value, dict) else json.loads(value)).items()}


def windowed_search(
    window: Callable[..., Any],
    json_object: Callable[..., Any],
    filters: Filters,
    sort: str,
    offset: int,
    limit: int,
    *,
    best_first: bool,
) -> tuple[int, dict[str, int], list[Hit]]:
    """Counts per kind and one page of hits in a single statement over a window of matches.

    `window(with_kind=…)` is a MATERIALIZED CTE of the newest ``max_matches()`` matches the
    reader may see, with columns id, kind, created_at, score (access tokens and filters already
    in its WHERE). The page and a JSON object of counts per kind are read from it at once, so
    the matches are walked (and ranked) once. With a kind filter the counts come from a window
    without it (the tabs show every kind) and the page from the kind's own window, which goes
    further back when the kind is rare.
    """

    def counts_of(w: Any) -> Any:
        per_kind = select(w.c.kind, func.count().label("n")).group_by(w.c.kind).subquery()
        return select(json_object(per_kind.c.kind, per_kind.c.n)).scalar_subquery()

    def page(w: Any) -> tuple[dict[str, int], list]:
        if sort == "date":
            order = (w.c.created_at.desc(), w.c.id.desc())
        else:
            order = (w.c.score.desc() if best_first else w.c.score, w.c.id.desc())
        stmt = (
            select(counts_of(w).label("counts"), *STORED, w.c.score)
            .join_from(w, SearchDoc, SearchDoc.id == w.c.id)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        )
        rows = db.session.execute(stmt).all()
        if rows:
            return _counts(rows[0][0]), rows
        return _counts(db.session.scalar(select(counts_of(w)))), []  # past the last page

    if filters.kind:
        counts = _counts(db.session.scalar(select(counts_of(window(with_kind=False, scored=False)))))
        own, rows = page(window(with_kind=True, scored=True))
        total = own.get(filters.kind, 0)
        counts.pop(filters.kind, None)
        if total:
            counts[filters.kind] = total
    else:
        counts, rows = page(window(with_kind=False, scored=True))
        total = sum(counts.values())
    sign = 1.0 if best_first else -1.0  # hits carry higher-is-better scores on every engine
    return total, counts, [Hit(*row[1:6], aware(row[6]), sign * float(row[8] or 0.0)) for row in rows]
