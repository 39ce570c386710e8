"""The Elasticsearch backend: the bodies it sends checked against the documented DSL, the
alias swap of a reindex checked on the wire (the real client against a recording HTTP stub),
and a round trip on a real server when ELASTICSEARCH_URL is set (none is installable on
these machines, so the skip stands even with CI=true)."""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dangxiao.search import Doc
from dangxiao.search.backends import Filters, IndexedDoc
from dangxiao.search.backends.elastic import ElasticBackend, bulk_actions, mapping, query_body
from dangxiao.search.text import doc_tokens, parse

WHEN = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:  # no database here
    return request.param


def indexed(kind: str, ref_id: int, title: str, body: str, access: str = "public", **kw) -> IndexedDoc:
    doc = Doc(kind, ref_id, title, body, f"/{kind}/{ref_id}", access, kw.pop("created_at", WHEN), **kw)
    return IndexedDoc(doc, doc_tokens(title), doc_tokens(body))


def test_mapping_whitespace_tokens_stored_originals_keyword_filters():
    body = mapping()
    json.dumps(body)
    analyzer = body["settings"]["analysis"]["analyzer"]["dx_tokens"]
    assert analyzer == {"type": "custom", "tokenizer": "whitespace"}
    props = body["mappings"]["properties"]
    assert props["title_tokens"] == props["body_tokens"] == {"type": "text", "analyzer": "dx_tokens"}
    assert props["title"]["index"] is False and props["body"]["index"] is False
    assert {props[f]["type"] for f in ("kind", "access", "category")} == {"keyword"}
    assert (props["ref_id"]["type"], props["board_id"]["type"], props["created_at"]["type"]) == ("long", "long", "date")
    assert body["mappings"]["dynamic"] == "strict"


def test_query_body_words_phrases_exclusions_filters():
    parsed = parse('組織關係 "三会一课 制度" -转接')
    filters = Filters(kind="topic", board_id=7, category="3", date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    body = query_body(parsed, ["public", "board:7"], filters, "relevance", 20, 10)
    json.dumps(body)
    bool_ = body["query"]["bool"]
    fields = ["title_tokens^3", "body_tokens"]
    assert bool_["must"][0] == {
        "bool": {
            "should": [
                {"multi_match": {"query": "组织关系", "type": "phrase", "fields": fields}},
                {"multi_match": {"query": "组织 关系", "type": "phrase", "fields": fields}},
            ],
            "minimum_should_match": 1,
        }
    }
    assert bool_["must"][1] == {"multi_match": {"query": "三会一课 制度", "type": "phrase", "fields": fields}}
    assert bool_["must_not"] == [{"multi_match": {"query": "转接", "type": "phrase", "fields": fields}}]
    assert bool_["filter"] == [
        {"terms": {"access": ["public", "board:7"]}},
        {"term": {"board_id": 7}},
        {"term": {"category": "3"}},
        {
            "range": {
                "created_at": {
                    "format": "yyyy-MM-dd",
                    "time_zone": "Asia/Shanghai",
                    "gte": "2026-03-01",
                    "lt": "2026-04-01",
                }
            }
        },
    ]
    # the kind narrows the hits, not the per-kind counts
    assert body["post_filter"] == {"term": {"kind": "topic"}}
    assert body["aggs"] == {"kinds": {"terms": {"field": "kind", "size": 6}}}
    assert (body["from"], body["size"], body["track_total_hits"]) == (20, 10, True)
    assert body["sort"][0] == {"_score": {"order": "desc"}}
    by_date = query_body(parse("党员"), ["public"], Filters(), "date", 0, 10)
    assert by_date["sort"][0] == {"created_at": {"order": "desc"}}
    assert "post_filter" not in by_date and "must_not" not in by_date["query"]["bool"]


def test_bulk_actions_expand_to_the_bulk_api_lines():
    from elasticsearch.helpers import expand_action

    naive = datetime(2026, 3, 1, 8, 30)
    docs = [indexed("topic", 7, "三会一课", "<b>组织关系</b>", "board:2", board_id=2, created_at=naive)]
    action, source = expand_action(bulk_actions(docs, "dangxiao-1")[0])
    assert action == {"index": {"_index": "dangxiao-1", "_id": "topic:7"}}
    assert source["title_tokens"] == "三会一课" and source["body"] == "<b>组织关系</b>"
    assert (source["access"], source["board_id"], source["created_at"]) == ("board:2", 2, "2026-03-01T08:30:00+00:00")
    assert set(source) == set(mapping()["mappings"]["properties"])


class _Stub(BaseHTTPRequestHandler):
    """Just enough of Elasticsearch's REST API to record what the client sends."""

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, payload: dict | None = None) -> None:
        data = json.dumps(payload or {}).encode()
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        path = self.path.split("?")[0]
        state["log"].append((self.command, path, raw))
        aliased = [i for i, names in state["indices"].items() if "dx" in names]
        if path == "/_alias/dx":
            self._reply(200 if aliased else 404, {i: {"aliases": {"dx": {}}} for i in aliased})
        elif path == "/_aliases":
            for action in json.loads(raw)["actions"]:
                ((verb, spec),) = action.items()
                names = state["indices"][spec["index"]]
                names.add(spec["alias"]) if verb == "add" else names.discard(spec["alias"])
            self._reply(200, {"acknowledged": True})
        elif path == "/_bulk":
            lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
            items = [
                {op: {"_id": meta["_id"], "status": 201}}
                for line in lines
                for op, meta in line.items()
                if op in {"index", "delete"}
            ]
            self._reply(200, {"took": 1, "errors": False, "items": items})
        elif path.endswith("/_refresh"):
            self._reply(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
        elif path == "/dx/_search":
            hit = {
                "_source": {
                    "kind": "faq",
                    "ref_id": 3,
                    "title": "t",
                    "body": "b",
                    "url": "/f/3",
                    "created_at": WHEN.isoformat(),
                }
            }
            self._reply(
                200,
                {
                    "hits": {"total": {"value": 4}, "hits": [dict(hit, _score=1.5)]},
                    "aggregations": {"kinds": {"buckets": [{"key": "faq", "doc_count": 4}]}},
                },
            )
        elif self.command == "PUT":
            state["indices"][path.strip("/")] = set()
            self._reply(200, {"acknowledged": True, "index": path.strip("/")})
        elif self.command == "DELETE":
            state["indices"].pop(path.strip("/"), None)
            self._reply(200, {"acknowledged": True})
        else:
            self._reply(400, {"error": f"stub: {self.command} {path}"})

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@pytest.fixture
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.state = {"log": [], "indices": {}}  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_first_write_creates_an_aliased_index_and_reindex_swaps_it_atomically(stub):
    es = ElasticBackend(f"http://127.0.0.1:{stub.server_port}", "DX")
    log = stub.state["log"]
    es.upsert([indexed("faq", 3, "组织关系", "转接")])
    (first,) = stub.state["indices"]
    created = next(json.loads(body) for method, path, body in log if method == "PUT")
    assert created == mapping() and first.startswith("dx-")
    assert stub.state["indices"][first] == {"dx"}
    bulk = [body for method, path, body in log if path == "/_bulk"][0].splitlines()
    assert json.loads(bulk[0]) == {"index": {"_index": "dx", "_id": "faq:3"}}

    log.clear()
    es.begin_reindex()
    es.upsert([indexed("faq", 3, "组织关系", "转接")])
    es.end_reindex()
    (second,) = stub.state["indices"]
    assert second != first and stub.state["indices"][second] == {"dx"}
    calls = [(method, path) for method, path, _ in log if path != "/_alias/dx"]
    assert calls == [
        ("PUT", f"/{second}"),
        ("PUT", "/_bulk"),
        ("POST", f"/{second}/_refresh"),
        ("POST", "/_aliases"),
        ("DELETE", f"/{first}"),
    ]
    swap = [json.loads(body) for _, path, body in log if path == "/_aliases"][0]
    assert swap == {"actions": [{"remove": {"index": first, "alias": "dx"}}, {"add": {"index": second, "alias": "dx"}}]}


def test_search_sends_the_body_and_reads_hits_and_counts(stub):
    es = ElasticBackend(f"http://127.0.0.1:{stub.server_port}", "dx")
    es.clear()
    assert es.search(parse("！！"), ["public"], Filters(), "relevance", 0, 10) == (0, {}, [])
    total, counts, hits = es.search(parse("组织关系"), ["public"], Filters(kind="faq"), "relevance", 0, 10)
    sent = [json.loads(body) for _, path, body in stub.state["log"] if path == "/dx/_search"][0]
    assert sent == query_body(parse("组织关系"), ["public"], Filters(kind="faq"), "relevance", 0, 10)
    assert (total, counts) == (4, {"faq": 4})
    assert (hits[0].kind, hits[0].ref_id, hits[0].created_at, hits[0].score) == ("faq", 3, WHEN, 1.5)


# -- a real server (ELASTICSEARCH_URL) ------------------------------------------------------------

ES_URL = os.environ.get("ELASTICSEARCH_URL")


@pytest.mark.skipif(
    not ES_URL, reason="需要 ELASTICSEARCH_URL 指向一个 Elasticsearch 服务器（本机无法安装，CI 中同样跳过）"
)
def test_round_trip_on_a_real_server():
    es = ElasticBackend(ES_URL, f"dx-test-{uuid.uuid4().hex[:8]}", refresh=True)
    try:
        es.upsert(
            [
                indexed("faq", 1, "组织关系转接", "办理組織關係轉接需要介绍信"),
                indexed("topic", 2, "三会一课", "组织关系怎么转", "board:9", board_id=9),
                indexed("help", 3, "我的求助", "组织关系问题", "user:5"),
            ]
        )
        total, counts, hits = es.search(parse("組織關係"), ["public", "user:5"], Filters(), "relevance", 0, 10)
        assert total == 2 and counts == {"faq": 1, "help": 1}
        assert {(h.kind, h.ref_id) for h in hits} == {("faq", 1), ("help", 3)}  # board:9 is not the reader's
        assert hits[0].kind == "faq"  # the title match weighs more
        total, counts, _ = es.search(parse("组织关系"), ["public", "user:5"], Filters(kind="help"), "date", 0, 10)
        assert total == 1 and counts == {"faq": 1, "help": 1}
        assert es.search(parse("组织关系 -介绍信"), ["public"], Filters(), "relevance", 0, 10)[0] == 0
        es.begin_reindex()
        es.upsert([indexed("faq", 1, "组织关系转接", "新内容")])
        assert (
            es.search(parse("介绍信"), ["public"], Filters(), "relevance", 0, 10)[0] == 1
        )  # the old index still serves
        es.end_reindex()
        assert es.count() == 1
        es.delete([("faq", 1), ("faq", 404)])
        assert es.count() == 0
    finally:
        for name in es._aliased():  # by name: wildcard deletes are refused by default (destructive_requires_name)
            es.client.indices.delete(index=name, ignore_unavailable=True)
