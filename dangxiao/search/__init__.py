"""Search in Chinese over what a reader may see: courses, lessons, forum topics and posts, FAQ,
one's own help requests. One interface, three backends (SQLite FTS5 by default, PostgreSQL
tsvector, Elasticsearch at scale), chosen by SEARCH_BACKEND.

The core never imports the packages it indexes: each registers a :class:`Source` (how to
load its documents and which access tokens a reader holds) — the school from
dangxiao/school/search_sources.py, the forum from forum/search_sources.py. Documents carry
one access token; a query keeps only documents whose token the reader holds, inside the
backend's query, so counts and pages never include what the reader may not see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

KIND_LABELS = {
    "course": "课程",
    "lesson": "课时",
    "topic": "主题",
    "post": "回复",
    "faq": "常见问题",
    "help": "我的求助",
}


@dataclass(frozen=True)
class Doc:
    """What a source hands the index: the original text and who may read it."""

    kind: str
    ref_id: int
    title: str
    body: str
    url: str
    access: str  # "public", "course:<id>", "board:<id>", "user:<id>"
    created_at: datetime
    board_id: int | None = None
    category: str = ""


@dataclass(frozen=True)
class Source:
    """One kind of document. `load(ids)` returns those that should be indexed now (missing ids
    leave the index); `all_ids()` feeds a reindex; `viewer_tokens(actor)` the access tokens
    of this kind the actor holds (anonymous included)."""

    kind: str
    label: str
    load: Callable[[list[int]], list[Doc]]
    all_ids: Callable[[], Iterable[int]]
    viewer_tokens: Callable[[Any], list[str]]


_SOURCES: dict[str, Source] = {}


def register_source(source: Source) -> None:
    if source.kind not in KIND_LABELS:
        raise ValueError(f"unknown search kind {source.kind!r}")
    _SOURCES[source.kind] = source


def sources() -> dict[str, Source]:
    return dict(_SOURCES)
