"""The SQL engines (SQLite FTS5, PostgreSQL tsvector) through the one Backend interface.

Every test runs on both databases; SEARCH_BACKEND=auto picks the engine that goes with it.
Access filtering is part of the query: totals and per-kind counts never include documents
whose token the reader lacks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dangxiao.search import Doc
from dangxiao.search.backends import Filters, IndexedDoc, get_backend
from dangxiao.search.text import doc_tokens, parse

T0 = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


def item(kind: str, ref_id: int, title: str, body: str, access: str = "public", days: int = 0, **extra) -> IndexedDoc:
    doc = Doc(kind, ref_id, title, body, f"/{kind}/{ref_id}", access, T0 + timedelta(days=days), **extra)
    return IndexedDoc(doc, doc_tokens(title), doc_tokens(body))


def find(q: str, tokens=("public",), filters: Filters | None = None, sort="relevance", offset=0, limit=10):
    return get_backend().search(parse(q), list(tokens), filters or Filters(), sort, offset, limit)


def keys(hits) -> list[tuple[str, int]]:
    return [(hit.kind, hit.ref_id) for hit in hits]


def test_auto_picks_the_engine_of_the_database(ctx, backend):
    assert get_backend().name == ("postgres" if backend == "postgresql" else "sqlite")
    assert get_backend() is get_backend()  # one per app


def test_upsert_search_rewrite_delete(ctx):
    engine = get_backend()
    engine.upsert(
        [
            item("topic", 1, "组织关系转接怎么办理", "外出务工，需要开介绍信。"),
            item("post", 2, "", "我去年办理了组织关系转接，很顺利。"),
            item("faq", 3, "党费缴纳标准", "按月缴纳党费。"),
        ]
    )
    assert engine.count() == 3
    total, counts, hits = find("组织关系")
    assert total == 2 and counts == {"topic": 1, "post": 1}
    assert keys(hits) == [("topic", 1), ("post", 2)]  # the title match ranks first
    assert hits[0].title == "组织关系转接怎么办理" and hits[0].url == "/topic/1"
    assert hits[0].created_at == T0

    engine.upsert([item("topic", 1, "流动党员活动证", "在哪里领取")])  # rewritten, not added
    assert engine.count() == 3
    assert keys(find("组织关系")[2]) == [("post", 2)]
    assert keys(find("流动党员")[2]) == [("topic", 1)]

    engine.delete([("post", 2), ("post", 99)])
    assert find("组织关系")[0] == 0 and engine.count() == 2


def test_access_is_filtered_inside_the_query(ctx):
    engine = get_backend()
    engine.upsert(
        [item("topic", i, "三会一课记录", "支部学习", access="board:1") for i in range(1, 6)]  # private board
        + [item("topic", i, "三会一课安排", "支部学习", access="board:2") for i in range(6, 9)]
        + [item("course", 9, "三会一课", "必修课", access="course:4"), item("faq", 10, "三会一课是什么", "")]
    )
    total, counts, hits = find("三会一课", tokens=("public", "board:2"))
    assert total == 4 and counts == {"topic": 3, "faq": 1}
    assert {key for key in keys(hits)} == {("topic", 6), ("topic", 7), ("topic", 8), ("faq", 10)}
    total, counts, hits = find("三会一课", tokens=("public", "board:2"), offset=2, limit=2)
    assert total == 4 and len(hits) == 2  # the second page is made of readable documents too
    assert find("三会一课", tokens=())[0] == 0
    assert find("三会一课", tokens=("user:1",)) == (0, {}, [])


def test_filters_and_sort_by_date(ctx):
    get_backend().upsert(
        [
            item("topic", 1, "志愿服务活动", "", board_id=1, days=0),
            item("post", 2, "", "志愿服务活动照片", board_id=1, days=1),
            item("topic", 3, "志愿服务方案", "", board_id=2, days=2),
            item("faq", 4, "志愿服务怎么组织", "", category="组织生活", days=3),
            item("help", 5, "志愿服务请假", "", category="组织生活", access="user:7", days=4),
        ]
    )
    tokens = ("public", "user:7")
    total, counts, hits = find("志愿服务", tokens, Filters(kind="topic"))
    assert total == 2 and set(keys(hits)) == {("topic", 1), ("topic", 3)}
    assert counts == {"topic": 2, "post": 1, "faq": 1, "help": 1}  # the tabs show every kind
    assert set(keys(find("志愿服务", tokens, Filters(board_id=1))[2])) == {("topic", 1), ("post", 2)}
    assert set(keys(find("志愿服务", tokens, Filters(category="组织生活"))[2])) == {("faq", 4), ("help", 5)}
    # local (Beijing) days, both ends included
    window = Filters(date_from=date(2025, 3, 2), date_to=date(2025, 3, 3))
    assert set(keys(find("志愿服务", tokens, window)[2])) == {("post", 2), ("topic", 3)}
    newest_first = keys(find("志愿服务", tokens, sort="date")[2])
    assert newest_first == [("help", 5), ("faq", 4), ("topic", 3), ("post", 2), ("topic", 1)]


def test_counting_stops_at_the_cap(app, ctx):
    """Past SEARCH_MAX_MATCHES the newest matches are counted and ranked (totals are "N+")."""
    app.config["SEARCH_MAX_MATCHES"] = 3
    get_backend().upsert(
        [item("faq", 9, "党课", "", days=-1)] + [item("topic", i, "党课", "", days=i) for i in range(1, 6)]
    )
    total, counts, hits = find("党课")
    assert total == 3 and counts == {"topic": 3}
    assert keys(find("党课", sort="date")[2]) == [("topic", 5), ("topic", 4), ("topic", 3)]
    total, counts, hits = find("党课", filters=Filters(kind="faq"))  # a kind looks further back
    assert total == 1 and counts == {"topic": 3, "faq": 1} and keys(hits) == [("faq", 9)]


def test_phrases_exclusions_folding(ctx):
    get_backend().upsert(
        [
            item("topic", 1, "党员 学习 心得", "两学一做 学习教育"),
            item("topic", 2, "学习党员先进事迹", "PDF 材料下载"),
        ]
    )
    assert set(keys(find("党员 学习")[2])) == {("topic", 1), ("topic", 2)}
    assert keys(find('"党员 学习"')[2]) == [("topic", 1)]
    assert keys(find("学习 -两学一做")[2]) == [("topic", 2)]
    assert keys(find("黨員 ｐｄｆ")[2]) == [("topic", 2)]  # traditional and full-width fold
    assert keys(find("先进事迹pdf")[2]) == [("topic", 2)]  # Chinese and English run together


HOSTILE = [
    '"',
    '"党员',
    "党员*",
    "党员 NEAR 学习",
    "NEAR(党员 学习)",
    "title:党员",
    "^党员",
    "(党员",
    "党员)",
    "-",
    "AND OR NOT",
    "'; DROP TABLE search_docs; --",
    "党员 & | ! <-> :* \\",
    "党员" * 5000,
    "x" * 10_000,
]


def test_hostile_queries_never_raise(ctx):
    get_backend().upsert([item("topic", 1, "党员学习", "NEAR title")])
    for q in HOSTILE:
        total, _, hits = find(q)
        assert total >= 0 and len(hits) == min(total, 10), q
    assert find('"党员')[0] == 1 and find("(党员")[0] == 1  # syntax characters are just text
