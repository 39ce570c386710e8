"""Searching, and keeping the index in step with the database.

Searching: the query is parsed once (words, phrases, exclusions, folded and segmented like the
documents), the reader's access tokens are the union of what every registered source grants
them, and the engine filters by those tokens inside its query. Page numbers past the end land
on the last page; an empty query is zero results, not an error.

Indexing follows commits. Changes are *marked* — by the ORM hook of :func:`watch` after each
flush, or by :func:`touch` where rows change by bulk UPDATE — and nothing is indexed before the
unit of work commits. Just before the commit the marked documents are re-loaded through their
sources with the same session (so the index gets exactly what is being committed, deletions
and unpublished rows included); once the commit succeeded they are tokenised and written to
the engine in their own short transaction. A rollback drops the marks. A failure while
indexing is logged and never undoes or breaks the user's request: ``flask search reindex``
repairs the index from the sources.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import partial
from itertools import chain
from typing import Any

from flask import current_app, has_app_context
from markupsafe import Markup
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.search import Doc, sources
from dangxiao.search import text as search_text
from dangxiao.search.backends import Filters, IndexedDoc, chunks, get_backend
from dangxiao.transactions import after_commit

log = logging.getLogger(__name__)

_PENDING = "dangxiao.search.pending"
MAX_PAGE = 100_000  # deeper than anyone pages; keeps OFFSET arithmetic small


@dataclass(frozen=True)
class ResultHit:
    kind: str
    ref_id: int
    title_html: Markup
    snippet_html: Markup
    url: str
    created_at: datetime


@dataclass(frozen=True)
class Results:
    total: int
    counts: dict[str, int]
    hits: list[ResultHit]
    page: int
    pages: int
    query: Any = field(default=None)  # the ParsedQuery (its raw_terms highlight elsewhere too)
    capped: bool = False  # the engine stopped counting: show "N+" (total and counts are lower bounds)


# -- searching ---------------------------------------------------------------------------------


def viewer_tokens(actor: Any) -> list[str]:
    """Every access token the actor holds, over all registered sources (anonymous included)."""
    tokens: set[str] = set()
    for source in sources().values():
        tokens.update(source.viewer_tokens(actor))
    return sorted(tokens)


def search(
    actor: Any,
    q: str,
    *,
    kind: str | None = None,
    board_id: int | None = None,
    category: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int | None = None,
) -> Results:
    per_page = max(1, per_page or int(current_app.config.get("SEARCH_PAGE_SIZE") or 10))
    max_chars = int(current_app.config.get("SEARCH_MAX_QUERY_CHARS") or 200)
    parsed = search_text.parse(q or "", max_chars=max_chars)
    if parsed.empty:
        return Results(0, {}, [], 1, 1, parsed)
    tokens = viewer_tokens(actor)
    filters = Filters(kind or None, board_id, category or None, date_from, date_to)
    sort = "date" if sort == "date" else "relevance"
    page = min(max(1, int(page or 1)), MAX_PAGE)
    backend = get_backend()
    total, counts, hits = backend.search(parsed, tokens, filters, sort, (page - 1) * per_page, per_page)
    pages = max(1, -(-total // per_page))
    if page > pages:  # past the end: show the last page rather than nothing
        page = pages
        total, counts, hits = backend.search(parsed, tokens, filters, sort, (page - 1) * per_page, per_page)
    terms = parsed.raw_terms
    return Results(
        capped=backend.total_limit is not None and total >= backend.total_limit,
        total=total,
        counts=counts,
        hits=[
            ResultHit(
                hit.kind,
                hit.ref_id,
                search_text.highlight_title(hit.title, terms),
                search_text.highlight(hit.body, terms),
                hit.url,
                hit.created_at,
            )
            for hit in hits
        ],
        page=page,
        pages=pages,
        query=parsed,
    )


def status() -> dict:
    """For /healthz: which engine, how many documents it holds."""
    backend = get_backend()
    return {"backend": backend.name, "documents": backend.count()}


# -- indexing ----------------------------------------------------------------------------------


def indexed(doc: Doc) -> IndexedDoc:
    """Tokenise a document (body cut to SEARCH_BODY_MAX_CHARS: kept for snippets and tokens alike)."""
    limit = int(current_app.config.get("SEARCH_BODY_MAX_CHARS") or 20_000)
    if len(doc.body) > limit:
        doc = replace(doc, body=doc.body[:limit])
    return IndexedDoc(doc, search_text.doc_tokens(doc.title), search_text.doc_tokens(doc.body))


def _load(keys: Iterable[tuple[str, int]]) -> tuple[list[Doc], list[tuple[str, int]]]:
    """What the sources say these documents are now: docs to (re)write, keys to remove."""
    by_kind: dict[str, set[int]] = {}
    for kind, ref_id in keys:
        by_kind.setdefault(kind, set()).add(int(ref_id))
    registry = sources()
    docs: list[Doc] = []
    gone: list[tuple[str, int]] = []
    for kind, ids in by_kind.items():
        source = registry.get(kind)
        if source is None:
            log.warning("search: no source registered for %r; %d documents not indexed", kind, len(ids))
            continue
        for part in chunks(sorted(ids)):
            try:
                loaded = [doc for doc in source.load(part) if doc.kind == kind]
            except Exception:  # noqa: BLE001 — one broken source must not keep the others out
                log.exception("search: loading %d %s documents failed", len(part), kind)
                continue
            found = {doc.ref_id for doc in loaded}
            docs.extend(loaded)
            gone.extend((kind, ref_id) for ref_id in part if ref_id not in found)
    return docs, gone


def _write(docs: list[Doc], gone: list[tuple[str, int]]) -> None:
    backend = get_backend()
    for part in chunks(docs, 200):
        backend.upsert([indexed(doc) for doc in part])
    if gone:
        backend.delete(gone)


def _write_logged(docs: list[Doc], gone: list[tuple[str, int]]) -> None:
    try:
        _write(docs, gone)
    except Exception:  # noqa: BLE001 — the user's change is committed; `flask search reindex` repairs
        log.exception("search: indexing %d documents / removing %d failed", len(docs), len(gone))


def index_now(kind: str, ids: Iterable[int]) -> None:
    """Load and write these documents at once. Outside a unit of work only (CLI, tasks, tests):
    the engine writes on its own connection, which on SQLite would wait for an open write
    transaction of this session. Inside one, use :func:`touch`."""
    docs, gone = _load((kind, int(ref_id)) for ref_id in ids)
    _write(docs, gone)


def touch(kind: str, ids: Iterable[int]) -> None:
    """Mark documents changed (a bulk UPDATE the ORM hook cannot see): re-indexed after the
    surrounding transaction commits, or at once when no transaction is open."""
    keys = {(kind, int(ref_id)) for ref_id in ids}
    if not keys:
        return
    session = db.session()
    if not session.in_transaction():
        index_now(kind, [ref_id for _, ref_id in keys])
        return
    session.info.setdefault(_PENDING, set()).update(keys)


_WATCHED: dict[type, list[tuple[str, Callable[[Any], Iterable[tuple[str, int]]], frozenset[str] | None]]] = {}


def watch(
    model_class: type,
    kind: str,
    ids_of: Callable[[Any], Iterable[tuple[str, int]]] | None = None,
    *,
    fields: Iterable[str] | None = None,
) -> None:
    """Re-index after commit whatever `ids_of(obj)` names for every new, changed or deleted
    instance of `model_class` (default: the object itself as (kind, obj.id)). With `fields`,
    an UPDATE only counts when one of those attributes changed (a view counter does not)."""

    def default_ids(obj: Any) -> Iterable[tuple[str, int]]:
        return [(kind, obj.id)]

    entries = _WATCHED.setdefault(model_class, [])
    entries[:] = [entry for entry in entries if entry[0] != kind]  # re-registering replaces
    entries.append((kind, ids_of or default_ids, frozenset(fields) if fields else None))


def _is_app_session(session: Session) -> bool:
    return has_app_context() and db.session.registry.has() and db.session.registry() is session


def _changed(obj: Any, names: frozenset[str]) -> bool:
    attrs = inspect(obj).attrs
    return any(name in attrs and attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "after_flush")
def _mark_flushed(session: Session, flush_context: Any) -> None:
    """Collect the (kind, id)s of watched objects this flush wrote (history is still there)."""
    if not _WATCHED or not _is_app_session(session):
        return
    dirty = session.dirty
    keys: set[tuple[str, int]] = set()
    for obj in chain(session.new, dirty, session.deleted):
        for cls in type(obj).__mro__:
            for _kind, ids_of, names in _WATCHED.get(cls, ()):
                if names is not None and obj in dirty and not _changed(obj, names):
                    continue
                try:
                    keys.update((k, int(i)) for k, i in ids_of(obj) if i is not None)
                except Exception:  # noqa: BLE001 — a broken hook must not break the user's write
                    log.exception("search: ids_of failed for %r", obj)
    if keys:
        session.info.setdefault(_PENDING, set()).update(keys)


@event.listens_for(Session, "before_commit")
def _load_marked(session: Session) -> None:
    """Read the marked documents in the committing transaction; write them after it commits."""
    if session.in_nested_transaction() or not session.info.get(_PENDING) or not _is_app_session(session):
        return
    docs: list[Doc] = []
    gone: list[tuple[str, int]] = []
    for _ in range(10):  # loading can autoflush, and a flush can mark more
        session.flush()
        keys = session.info.pop(_PENDING, None)
        if not keys:
            break
        more, removed = _load(keys)
        docs.extend(more)
        gone.extend(removed)
    if docs or gone:
        after_commit(partial(_write_logged, docs, gone))


@event.listens_for(Session, "after_soft_rollback")
def _drop_marks(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


# -- rebuilding --------------------------------------------------------------------------------


def reindex_size() -> int:
    """How many documents a reindex will look at (for a progress bar)."""
    return sum(len(list(source.all_ids())) for source in sources().values())


def reindex(progress: Callable[[int], object] | None = None) -> int:
    """Rebuild the index from every source; returns the number of documents indexed.

    Documents are rewritten in batches while searches go on; what no source returned any more
    is pruned at the end (``prune``); an engine without it (or with its own swap, like an
    Elasticsearch alias: ``begin_reindex``/``end_reindex``) is handled the way it offers.
    `progress(n)` is called after each batch with the number of ids it covered.
    """
    backend = get_backend()
    started = utcnow()
    begin, end = getattr(backend, "begin_reindex", None), getattr(backend, "end_reindex", None)
    prune = getattr(backend, "prune", None)
    if begin is not None:
        begin()
    elif prune is None:
        backend.clear()
    total = 0
    for source in sources().values():
        for part in chunks(sorted(set(source.all_ids())), 500):
            docs = [doc for doc in source.load(part) if doc.kind == source.kind]
            backend.upsert([indexed(doc) for doc in docs])
            total += len(docs)
            if progress is not None:
                progress(len(part))
    if end is not None:
        end()
    elif prune is not None:
        prune(started)
    return total
