"""The match expressions the SQL engines run, checked on the real engines: an in-memory SQLite
FTS5 table (same tokenizer as migration 0009) and the suite's PostgreSQL (`to_tsvector('simple')`).
User input must never become query syntax: hostile queries run without error on both."""

from __future__ import annotations

import sqlite3

import pytest

from dangxiao.search.text import ParsedQuery, Word, doc_tokens, fts5_match, parse, tsquery

DOCS = {
    1: ("组织关系转接", "我想办理组织关系转接手续，需要介绍信吗？"),
    2: ("三会一课", "三会一课制度的落实情况"),
    3: ("下载", "PDF文件怎么下载？"),
    4: ("通知", "組織生活會 通知"),
    5: ("<script>", "<script>alert('x')</script> 党员活动"),
    6: ("纪律学习", "学习党的纪律处分条例，开展主题党日活动，不忘初心"),
}
# query → the documents it finds (the same on every engine)
EXPECTED = {
    "组织关系": {1},
    "組織關係": {1},
    "ＰＤＦ 下载": {3},
    "pdf -下载": set(),
    "三会一课": {2},
    '"办理组织关系"': {1},
    '"手续 办理"': set(),
    "组织 -转接": {4},
    "组织生活会 通知": {4},
    "script": {5},
    "党员活动": {5},
    '介绍信 -"组织 关系"': set(),
    # words jieba groups differently in the text: 党的纪律|处分, 主题党日活动 as one word
    "纪律处分": {6},
    "主题党日": {6},
    "初心": {6},
}
HOSTILE = [
    '"',
    '""',
    '"unbalanced',
    "*",
    "组织*",
    "NEAR(组织 关系)",
    "title:组织",
    "^组织",
    "(",
    ")",
    "组织 AND OR NOT",
    "'",
    "\\",
    "'; drop table x; --",
    "a & b | !c <-> d",
    ":*",
    "组织 -",
    "-(",
    "x" * 10_000,
    "<script>",
    "\x00",
]


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:  # no app here; keep conftest's PostgreSQL parametrisation off
    return request.param


@pytest.fixture(scope="module")
def fts5() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE search_fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0')")
    conn.executemany(
        "INSERT INTO search_fts(rowid, title, body) VALUES (?, ?, ?)",
        [(i, doc_tokens(title), doc_tokens(body)) for i, (title, body) in DOCS.items()],
    )
    return conn


def fts5_find(conn: sqlite3.Connection, q: str) -> set[int]:
    expression = fts5_match(parse(q, max_chars=20_000))
    if expression is None:
        return set()
    return {row[0] for row in conn.execute("SELECT rowid FROM search_fts WHERE search_fts MATCH ?", (expression,))}


def test_fts5_finds_what_the_query_means(fts5):
    assert {q: fts5_find(fts5, q) for q in EXPECTED} == EXPECTED


def test_fts5_hostile_input_is_only_text(fts5):
    for q in HOSTILE:
        fts5_find(fts5, q)  # must not raise
    assert fts5_find(fts5, "组织* ^关系: (转接)") == {1}  # the syntax characters are dropped, the words stay
    assert fts5_find(fts5, "NEAR(组织 关系)") == set()  # NEAR is a word here, and no document has it


def test_expression_shapes_and_escaping():
    nasty = ParsedQuery(words=[Word('a"b'), Word("o'k\\", ("o'", "k\\"))], phrases=[["x y", "z"]])
    assert fts5_match(nasty) == '("a""b" AND ("o\'k\\" OR "o\' k\\") AND "x y z")'
    assert tsquery(nasty) == "('a\"b') & (('o''k\\\\') | ('o''' <-> 'k\\\\')) & ('x y' <-> 'z')"
    assert fts5_match(parse("组织 -转接")) == '("组织") NOT "转接"'
    assert tsquery(parse("组织 -转接")) == "('组织') & !('转接')"
    for q in ["", "！！", "-转接", '-"三会一课 制度"']:
        assert fts5_match(parse(q)) is None and tsquery(parse(q)) is None


def test_tsquery_on_postgresql(pg_server):
    import psycopg

    conn = psycopg.connect(host="127.0.0.1", port=pg_server.port, user="postgres", dbname="postgres", autocommit=True)
    sql = (
        "SELECT id FROM unnest(%s::int[], %s::text[]) AS d(id, tokens)"
        " WHERE to_tsvector('simple', tokens) @@ to_tsquery('simple', %s)"
    )
    ids = list(DOCS)
    tokens = [doc_tokens(title) + " " + doc_tokens(body) for title, body in DOCS.values()]
    with conn:

        def find(q: str) -> set[int]:
            text = tsquery(parse(q, max_chars=20_000))
            if text is None:
                return set()
            return {row[0] for row in conn.execute(sql, [ids, tokens, text])}

        assert {q: find(q) for q in EXPECTED} == EXPECTED
        for q in HOSTILE:
            find(q)
        nasty = ParsedQuery(words=[Word("o'k\\"), Word("a:b")])  # not from parse, still no syntax error
        conn.execute("SELECT to_tsquery('simple', %s)", [tsquery(nasty)])
