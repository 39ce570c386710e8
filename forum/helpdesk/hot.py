"""热点问题: the terms most written about in forum posts and help requests of the last N days.

Why per-document terms: segmenting is the slow part (jieba, ~0.2 M characters a second on
this hardware), so each text is segmented once, when first seen, and its *distinct*
meaningful terms are kept in one HotDocTerms row (:func:`ingest`). A ranking then reads
those rows for the window and counts documents per term — a term written ten times in one
angry post counts once, so one author cannot make a topic hot. Rows are insert-only and
carry the document's own created_at; whether a document still counts is decided at read
time by a join on its source (a post still published in a published topic, a request not
held by the keyword review), so deleting, hiding or holding a text needs no recount. A
post edited later keeps the terms it had when first seen (edits rarely change the topic).

Score: documents × IDF, with jieba's IDF table (loaded once; the median IDF for words it
does not know, e.g. the party terms of dangxiao/text/party_terms.txt), so a term in every
text ("党员") does not crowd out the specific ones ("介绍信"). Trend compares the count
with the period of the same length before: "new" if it was absent, "up"/"down" if it moved
by more than 10 % (and at least one document), else "flat".

The cache: a ranking is kept in-process keyed by (database URL, days, limit, site-local
date, newest post id and the boards' published post/topic counters, newest request id and
the number of requests not held). Any new text raises a newest id; publishing, hiding or
deleting a post moves the boards' counters (forum.lifecycle keeps them); a review decision
on a request moves the not-held count; the date rolls the window daily. So a reload costs
four small queries, and the ranking is recomputed only when something it counts changed.
(Two changes that cancel out exactly — one post hidden while another is released from
review in the same board — are picked up by the next new text or the next day.)
"""

from __future__ import annotations

import os
import re
import statistics
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import jieba
from flask import current_app
from sqlalchemy import and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.templating import local_today
from dangxiao.text import segment
from forum.helpdesk.models import HelpRequest, HotDocTerms
from forum.models import Board, Post, PostState, Topic

BATCH = 2000  # documents segmented and inserted per statement
LOOKBACK = 1000  # ids below the newest seen that are checked again (late commits)
MIN_COUNT = 2  # a term in a single document is not a topic
TREND_BAND = 0.10  # relative change under which a trend is "flat"
STOPWORDS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stopwords.txt")
SOURCES = ("post", "help")

TREND_LABELS = {"up": "上升", "down": "下降", "new": "新", "flat": "持平"}
TREND_ARROWS = {"up": "↑", "down": "↓", "new": "★", "flat": "→"}

_HAN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}$")
_ASCII_WORD = re.compile(r"^[a-z]{2,}$")
# 三个, 十五, 两年, 几次: counted quantities, not topics.
_NUMERAL = re.compile(r"^[零〇一二三四五六七八九十百千万亿两几半多]+[个次年月日天号位名件份张岁周期条元]?$")
# Link targets, addresses and @mentions would make "https", "com" or a username "hot".
_NOISE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+|@[\w.-]+|\]\([^)]*\)|`[^`]*`")


@dataclass(frozen=True)
class HotTopic:
    term: str
    count: int  # documents in the window that contain the term
    previous: int  # documents in the period before
    trend: str  # up, down, new, flat
    score: float

    @property
    def trend_label(self) -> str:
        return TREND_LABELS[self.trend]

    @property
    def arrow(self) -> str:
        return TREND_ARROWS[self.trend]


# --- terms ------------------------------------------------------------------------------------


@cache
def stopwords() -> frozenset[str]:
    with open(STOPWORDS_FILE, encoding="utf-8") as f:
        return frozenset(w for line in f if not line.startswith("#") for w in line.split())


@cache
def idf_table() -> tuple[dict[str, float], float]:
    """jieba's IDF per word and the median (for words it does not list); read once per process."""
    path = os.path.join(os.path.dirname(os.path.abspath(jieba.__file__)), "analyse", "idf.txt")
    table: dict[str, float] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            word, _, value = line.rstrip("\n").partition(" ")
            if value:
                table[word] = float(value)
    return table, statistics.median(table.values())


def idf(term: str) -> float:
    table, median = idf_table()
    return table.get(term, median)


def terms(text: str) -> list[str]:
    """The distinct meaningful terms of `text`, in order of first appearance."""
    stop = stopwords()
    out: dict[str, None] = {}
    for token in segment.cut(_NOISE.sub(" ", text)):
        token = token.strip()
        if len(token) < 2:
            continue
        if token.isascii():
            token = token.lower()
            if not _ASCII_WORD.match(token):
                continue
        elif not _HAN.match(token) or _NUMERAL.match(token):
            continue
        if token not in stop:
            out[token] = None
    return list(out)


# --- ingest -----------------------------------------------------------------------------------


def _insert(rows: list[dict[str, Any]]) -> None:
    """Insert-only, and a row another worker inserted first is skipped instead of failing."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(HotDocTerms).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(HotDocTerms).on_conflict_do_nothing()
    else:  # pragma: no cover — the app runs on SQLite or PostgreSQL
        stmt = HotDocTerms.__table__.insert()
    db.session.execute(stmt, rows)


def _last_id(source: str) -> int:
    return db.session.scalar(select(func.max(HotDocTerms.doc_id)).where(HotDocTerms.source == source)) or 0


def _unseen(source: str, id_column: Any) -> Any:
    return ~select(HotDocTerms.doc_id).where(HotDocTerms.source == source, HotDocTerms.doc_id == id_column).exists()


def _post_batches(after: int) -> Iterator[list[tuple[int, str, datetime]]]:
    """Posts not seen yet, by id, in batches; an opening post's text includes its topic's title."""
    while True:
        stmt = (
            select(Post.id, Post.body, Post.created_at, Topic.title, Topic.first_post_id)
            .join(Topic, Topic.id == Post.topic_id)
            .where(Post.id > after, _unseen("post", Post.id))
            .order_by(Post.id)
            .limit(BATCH)
        )
        rows = db.session.execute(stmt).all()
        if not rows:
            return
        yield [(pid, f"{title}\n{body}" if first == pid else body, at) for pid, body, at, title, first in rows]
        after = rows[-1][0]


def _help_batches(after: int) -> Iterator[list[tuple[int, str, datetime]]]:
    while True:
        stmt = (
            select(HelpRequest.id, HelpRequest.description, HelpRequest.created_at)
            .where(HelpRequest.id > after, _unseen("help", HelpRequest.id))
            .order_by(HelpRequest.id)
            .limit(BATCH)
        )
        rows = db.session.execute(stmt).all()
        if not rows:
            return
        yield [tuple(r) for r in rows]
        after = rows[-1][0]


def ingest(limit: int | None = None) -> int:
    """Segment the posts and requests not seen yet; returns how many.

    New texts are those with an id above the newest one seen — less LOOKBACK ids, checked
    one by one: on PostgreSQL ids are handed out before commit, so a text can become
    visible after a higher id was already ingested, and must not be skipped for good.

    Flush-only like every service: the caller commits (a view's atomic(), the CLI, the bench).
    """
    done = 0
    for source, batches in (("post", _post_batches), ("help", _help_batches)):
        for batch in batches(max(_last_id(source) - LOOKBACK, 0)):
            if limit is not None:
                batch = batch[: max(limit - done, 0)]
            if not batch:
                break
            _insert(
                [
                    {"source": source, "doc_id": doc_id, "created_at": at, "terms": " ".join(terms(text or ""))}
                    for doc_id, text, at in batch
                ]
            )
            done += len(batch)
    return done


# --- ranking ----------------------------------------------------------------------------------

_cache: dict[tuple, list[HotTopic]] = {}
_cache_lock = threading.Lock()
_CACHE_SIZE = 16


def _cache_key(days: int, limit: int) -> tuple:
    newest_post = db.session.scalar(select(func.max(Post.id)))
    published = db.session.execute(select(func.sum(Board.post_count), func.sum(Board.topic_count))).one()
    newest_request, not_held = db.session.execute(
        select(func.max(HelpRequest.id), func.count(HelpRequest.id).filter(HelpRequest.held.is_(False)))
    ).one()
    return (
        str(db.engine.url),
        days,
        limit,
        local_today(),
        newest_post,
        tuple(published),
        newest_request,
        not_held,
    )


def _visible_rows(start: datetime, middle: datetime, end: datetime) -> Iterable[tuple[str, bool]]:
    """(terms, in the current window) of the documents in [start, end) that still count."""
    window = and_(HotDocTerms.created_at >= start, HotDocTerms.created_at < end)
    recent = (HotDocTerms.created_at >= middle).label("recent")
    posts = (
        select(HotDocTerms.terms, recent)
        .join(Post, Post.id == HotDocTerms.doc_id)
        .join(Topic, Topic.id == Post.topic_id)
        .where(
            HotDocTerms.source == "post",
            window,
            Post.state == PostState.published,
            Topic.state == PostState.published,
        )
    )
    requests = (
        select(HotDocTerms.terms, recent)
        .join(HelpRequest, HelpRequest.id == HotDocTerms.doc_id)
        .where(HotDocTerms.source == "help", window, HelpRequest.held.is_(False))
    )
    for stmt in (posts, requests):
        yield from db.session.execute(stmt.execution_options(yield_per=5000)).tuples()


def trend_of(count: int, previous: int) -> str:
    if previous == 0:
        return "new"
    if abs(count - previous) <= previous * TREND_BAND:
        return "flat"
    return "up" if count > previous else "down"


def rank(current: Counter[str], previous: Counter[str], limit: int) -> list[HotTopic]:
    scored = [(count * idf(term), count, term) for term, count in current.items() if count >= MIN_COUNT]
    scored.sort(key=lambda item: (-item[0], -item[1], item[2]))
    return [
        HotTopic(term, count, previous.get(term, 0), trend_of(count, previous.get(term, 0)), round(score, 2))
        for score, count, term in scored[:limit]
    ]


def compute(days: int, limit: int, now: datetime | None = None) -> list[HotTopic]:
    """Count documents per term in the window and the one before it; no ingest, no cache."""
    now = now or utcnow()
    middle, start = now - timedelta(days=days), now - timedelta(days=2 * days)
    current: Counter[str] = Counter()
    before: Counter[str] = Counter()
    for text, recent in _visible_rows(start, middle, now):
        (current if recent else before).update(text.split())
    return rank(current, before, limit)


def default_days() -> int:
    return int(current_app.config.get("HELPDESK_HOT_DAYS", 30))


def hot_topics(days: int | None = None, limit: int = 20) -> list[HotTopic]:
    """The ranked hot topics of the last `days` days (default HELPDESK_HOT_DAYS), cached until text changes."""
    days = days or default_days()
    key = _cache_key(days, limit)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return list(hit)
    ingest()
    result = compute(days, limit)
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = result
    return list(result)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def chart_data(topics: list[HotTopic]) -> dict[str, list]:
    """What static/js/helpdesk-charts.js draws (the same numbers as the table next to it)."""
    return {
        "terms": [t.term for t in topics],
        "counts": [t.count for t in topics],
        "previous": [t.previous for t in topics],
    }
