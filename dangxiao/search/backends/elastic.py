"""Elasticsearch: the engine for deployments that outgrow one machine.

The index holds the jieba tokens the service computed (one whitespace analyzer, so the engine
never segments Chinese on its own and matches exactly what SQLite and PostgreSQL match) and
the original title/body, stored only for snippets. Searches go to the alias ``<prefix>``,
which points at one concrete index ``<prefix>-<timestamp>``: a reindex fills a new index while
searches keep using the old one, then swaps the alias in one ``_aliases`` request (remove +
add are atomic) and deletes the old index — no moment without results.

The request bodies are built by pure functions (:func:`mapping`, :func:`query_body`,
:func:`bulk_actions`) in the documented JSON DSL and passed as ``body=``, which both the 8.x
and 9.x clients accept; the client's major version must match the server's (a 9.x client
sends ``compatible-with=9``, which an 8.x server refuses): pin it in requirements.txt.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dangxiao.search import KIND_LABELS
from dangxiao.search.backends import Filters, Hit, IndexedDoc
from dangxiao.search.text import term_groups

if TYPE_CHECKING:
    from dangxiao.search.text import ParsedQuery

TOKENS_ANALYZER = "dx_tokens"
TITLE_BOOST = 3
SOURCE_FIELDS = ["kind", "ref_id", "title", "body", "url", "created_at"]


def mapping() -> dict:
    """Settings and mappings of a new index (``PUT /<index>``)."""
    tokens = {"type": "text", "analyzer": TOKENS_ANALYZER}
    stored = {"type": "text", "index": False}  # originals: returned in _source, never searched
    return {
        "settings": {
            "analysis": {"analyzer": {TOKENS_ANALYZER: {"type": "custom", "tokenizer": "whitespace"}}},
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "kind": {"type": "keyword"},
                "ref_id": {"type": "long"},
                "access": {"type": "keyword"},
                "board_id": {"type": "long"},
                "category": {"type": "keyword"},
                "title": stored,
                "body": stored,
                "url": {"type": "keyword", "index": False, "doc_values": False},
                "created_at": {"type": "date"},
                "title_tokens": tokens,
                "body_tokens": tokens,
            },
        },
    }


def doc_id(kind: str, ref_id: int) -> str:
    return f"{kind}:{ref_id}"


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def bulk_actions(docs: Iterable[IndexedDoc], index: str | None = None) -> list[dict]:
    """Index actions in the bulk helpers' form (``_op_type``/``_index``/``_id``/``_source``),
    which they expand to the ``_bulk`` API's action and source lines."""
    actions = []
    for item in docs:
        doc = item.doc
        action: dict[str, Any] = {
            "_op_type": "index",
            "_id": doc_id(doc.kind, doc.ref_id),
            "_source": {
                "kind": doc.kind,
                "ref_id": doc.ref_id,
                "access": doc.access,
                "board_id": doc.board_id,
                "category": doc.category or "",
                "title": doc.title,
                "body": doc.body,
                "url": doc.url,
                "created_at": _iso(doc.created_at),
                "title_tokens": item.title_tokens,
                "body_tokens": item.body_tokens,
            },
        }
        if index:
            action["_index"] = index
        actions.append(action)
    return actions


def _phrase(tokens: list[str]) -> dict:
    return {
        "multi_match": {
            "query": " ".join(tokens),
            "type": "phrase",
            "fields": [f"title_tokens^{TITLE_BOOST}", "body_tokens"],
        }
    }


def _clause(alternatives: list[list[str]]) -> dict:
    """One query term: any of its phrases (a word's token, or the phrase of its sub-words)."""
    if len(alternatives) == 1:
        return _phrase(alternatives[0])
    return {"bool": {"should": [_phrase(tokens) for tokens in alternatives], "minimum_should_match": 1}}


def query_body(
    parsed: ParsedQuery,
    tokens: list[str],
    filters: Filters,
    sort: str,
    offset: int,
    limit: int,
    *,
    time_zone: str = "Asia/Shanghai",
) -> dict:
    """The ``_search`` body. Access tokens and filters are in ``bool.filter`` (no scoring, cached);
    the kind filter is a ``post_filter`` so the per-kind aggregation still counts every kind
    the reader may see; dates are local days (`time_zone`), both ends included."""

    positive, excluded = term_groups(parsed)
    conditions: list[dict] = [{"terms": {"access": list(tokens)}}]
    if filters.board_id is not None:
        conditions.append({"term": {"board_id": filters.board_id}})
    if filters.category:
        conditions.append({"term": {"category": filters.category}})
    if filters.date_from or filters.date_to:
        bounds: dict[str, Any] = {"format": "yyyy-MM-dd", "time_zone": time_zone}
        if filters.date_from:
            bounds["gte"] = filters.date_from.isoformat()
        if filters.date_to:
            bounds["lt"] = (filters.date_to + timedelta(days=1)).isoformat()
        conditions.append({"range": {"created_at": bounds}})
    query: dict[str, Any] = {"must": [_clause(group) for group in positive], "filter": conditions}
    if excluded:
        query["must_not"] = [_clause(group) for group in excluded]
    if sort == "date":
        order: list = [{"created_at": {"order": "desc"}}, {"_score": {"order": "desc"}}]
    else:
        order = [{"_score": {"order": "desc"}}, {"created_at": {"order": "desc"}}]
    body: dict[str, Any] = {
        "query": {"bool": query},
        "aggs": {"kinds": {"terms": {"field": "kind", "size": len(KIND_LABELS)}}},
        "sort": order,
        "from": max(0, offset),
        "size": max(0, limit),
        "track_total_hits": True,
        "_source": SOURCE_FIELDS,
    }
    if filters.kind:
        body["post_filter"] = {"term": {"kind": filters.kind}}
    return body


def _hit(raw: dict) -> Hit:
    source = raw["_source"]
    created = datetime.fromisoformat(source["created_at"])
    return Hit(
        kind=source["kind"],
        ref_id=int(source["ref_id"]),
        title=source.get("title") or "",
        body=source.get("body") or "",
        url=source.get("url") or "",
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        score=float(raw.get("_score") or 0.0),
    )


class ElasticBackend:
    """The Backend protocol over an Elasticsearch alias. `refresh` makes writes visible to the
    next search at once (tests); in production the index's 1 s refresh is enough."""

    name = "elasticsearch"
    total_limit = None  # the query asks for exact totals (track_total_hits)

    def __init__(self, url: str, index_prefix: str = "dangxiao", *, refresh: bool = False, client: Any = None):
        if client is None:
            from elasticsearch import Elasticsearch

            client = Elasticsearch(url, request_timeout=30, retry_on_timeout=True, max_retries=2)
        self.client = client
        self.alias = index_prefix.lower()
        self.refresh = refresh
        self._ready = False
        self._building: str | None = None  # the new index during a reindex

    # -- indexes and the alias ------------------------------------------------------------------

    def _new_index(self) -> str:
        name = f"{self.alias}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"
        self.client.indices.create(index=name, body=mapping())
        return name

    def _aliased(self) -> list[str]:
        """The concrete indexes behind the alias (normally one)."""
        if not self.client.indices.exists_alias(name=self.alias):
            return []
        return sorted(self.client.indices.get_alias(name=self.alias).body)

    def _swap(self, new: str) -> None:
        """Point the alias at `new` alone in one request, then drop the old indexes."""
        old = self._aliased()
        actions = [{"remove": {"index": name, "alias": self.alias}} for name in old if name != new]
        actions.append({"add": {"index": new, "alias": self.alias}})
        self.client.indices.update_aliases(body={"actions": actions})
        for name in old:
            if name != new:
                self.client.indices.delete(index=name, ignore_unavailable=True)

    def _ensure(self) -> None:
        """Create the first index and its alias when the cluster has none (first use)."""
        if self._ready:
            return
        if not self._aliased():
            self._swap(self._new_index())
        self._ready = True

    def _target(self) -> str:
        if self._building:
            return self._building
        self._ensure()
        return self.alias

    # -- the protocol ---------------------------------------------------------------------------

    def upsert(self, docs: list[IndexedDoc]) -> None:
        if not docs:
            return
        from elasticsearch import helpers

        helpers.bulk(self.client, bulk_actions(docs, self._target()), refresh=self._refresh_arg())

    def delete(self, keys: list[tuple[str, int]]) -> None:
        if not keys:
            return
        from elasticsearch import helpers

        target = self._target()
        actions = [{"_op_type": "delete", "_index": target, "_id": doc_id(kind, ref_id)} for kind, ref_id in keys]
        helpers.bulk(self.client, actions, ignore_status=(404,), refresh=self._refresh_arg())

    def search(
        self, query: ParsedQuery, tokens: list[str], filters: Filters, sort: str, offset: int, limit: int
    ) -> tuple[int, dict[str, int], list[Hit]]:
        if query.empty or not tokens:
            return 0, {}, []
        self._ensure()
        body = query_body(query, tokens, filters, sort, offset, limit, time_zone=_site_zone_name())
        response = self.client.search(index=self.alias, body=body)
        total = int(response["hits"]["total"]["value"])
        buckets = response.get("aggregations", {}).get("kinds", {}).get("buckets", [])
        counts = {bucket["key"]: int(bucket["doc_count"]) for bucket in buckets}
        return total, counts, [_hit(raw) for raw in response["hits"]["hits"]]

    def count(self) -> int:
        if not self._aliased():
            return 0
        return int(self.client.count(index=self.alias)["count"])

    def clear(self) -> None:
        """Swap in an empty index (searches never see a half-deleted one)."""
        self._swap(self._new_index())
        self._ready = True

    # -- reindex with an alias swap (used by service.reindex when present) ----------------------

    def begin_reindex(self) -> None:
        """Writes go to a new index from now on; searches keep reading the old one."""
        self._ensure()
        self._building = self._new_index()

    def end_reindex(self) -> None:
        new, self._building = self._building, None
        if new is None:
            return
        self.client.indices.refresh(index=new)
        self._swap(new)

    def _refresh_arg(self) -> str | bool:
        return "wait_for" if self.refresh else False


def _site_zone_name() -> str:
    try:
        from flask import current_app

        return current_app.config.get("TIMEZONE") or "Asia/Shanghai"
    except RuntimeError:  # outside an app context
        return "Asia/Shanghai"
