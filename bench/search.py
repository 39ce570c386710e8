"""Search benchmark: index generated Chinese posts, then time queries on SQLite and PostgreSQL.

Run from the repository root: ``python bench/search.py``. Prints one figure per line on
stdout (``name = value unit``); progress notes go to stderr.

- search.docs: how many posts were indexed. The aim is BENCH_SEARCH_DOCS (default 1,000,000);
  indexing stops when it has used BENCH_SEARCH_SECONDS (default 180) of indexing time, and the
  figure says how far it got.
- search.query.p95: 200 varied queries (words, two and three words, "phrases", -excluded
  words, traditional characters, English mixed in) through ``service.search`` — parsing,
  access tokens, the engine's query with counts per kind, highlighting — as a member holding
  public + 20 board tokens, on the default SQLite FTS5 engine (goal ≤ 50 ms). A word in very
  many posts is counted and ranked over its newest SEARCH_MAX_MATCHES (2,000) matches.
- search.query_postgres.p95: the same queries over the same rows copied into a PostgreSQL
  started here as the tests start theirs (skipped, with the reason, without initdb).
- search.index_vs_raw_jieba: indexing throughput (fold + jieba + writing rows and FTS in
  bulk transactions) ÷ bare ``jieba.lcut_for_search`` throughput over the same texts with
  the same dictionary, measured side by side on every fourth batch (goal ≥ 0.7).
"""

from __future__ import annotations

import itertools
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jieba

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from dangxiao import create_app  # noqa: E402
from dangxiao.extensions import db  # noqa: E402
from dangxiao.search import (  # noqa: E402
    KIND_LABELS,
    Doc,
    Source,
    register_source,
    service,  # noqa: E402
)
from dangxiao.search.backends import IndexedDoc, get_backend  # noqa: E402
from dangxiao.search.models import SearchDoc  # noqa: E402
from dangxiao.text import segment  # noqa: E402

TARGET_DOCS = int(os.environ.get("BENCH_SEARCH_DOCS", "1000000"))
BUDGET_SECONDS = float(os.environ.get("BENCH_SEARCH_SECONDS", "180"))
BATCH = 5_000
BOARDS = 60
MEMBER_BOARDS = 20
QUERIES = 200

WORDS = (
    "学习 贯彻 党的 二十大 精神 三会一课 主题党日 组织生活会 党员 支部 书记 群众 乡村振兴 基层治理 志愿服务 "
    "理论 实践 初心 使命 担当 作风 纪律 廉洁 党章 党课 发言 体会 收获 问题 建议 经验 做法 活动 组织关系 转接 "
    "流动党员 茶园 合作社 村集体 经济 调研 走访 两学一做 民主评议 发展党员 入党申请书 积极分子 预备党员 转正 "
    "党费 缴纳 标准 介绍信 外出务工 返乡 创业 电商 直播 带货 脱贫 攻坚 防止 返贫 产业 特色 种植 养殖 "
    "合作 医疗 养老 保险 教育 扶贫 文明 乡风 移风易俗 环境 整治 垃圾 分类 厕所 革命 道路 硬化 饮水 安全 "
    "防汛 抗旱 森林 防火 疫情 防控 疫苗 接种 网格员 调解 纠纷 信访 法治 宣传 普法 安全生产 消防 检查 "
    "老年人 留守儿童 困难 家庭 慰问 走访 帮扶 结对 先锋 模范 表彰 优秀 共产党员 先进 事迹 报告会 "
    "会议 记录 材料 上报 考核 评比 台账 规范化 建设 阵地 党群 服务中心 便民 窗口 办事 流程 指南 "
    "在线 课程 视频 测试 学时 统计 必修课 选修课 考试 成绩 证书 手机 网络 信号 平台 登录 密码 "
    "今天 昨天 明天 上午 下午 晚上 大家 我们 他们 一起 认真 积极 主动 及时 全面 深入 扎实 有效"
).split()
ENGLISH = "PDF APP Excel Word PPT WiFi QQ 5G".split()
PLACES = "东 西 南 北 上 下 前 后 新 老 大 小 石 河 山 林 桥 湾 坪 坝 沟 岭".split()
PUNCTUATION = "，，，。。、！；：？"
TRADITIONAL = {"党员": "黨員", "学习": "學習", "组织关系": "組織關係", "会议": "會議", "经验": "經驗"}
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class Corpus:
    """Posts that read statistically like Chinese: most words drawn by their real frequency
    (jieba's own dictionary counts, the top 40,000 words), one in five from the party-work
    vocabulary above, with village names, numbers, some English and punctuation. Queries use
    content words (nouns, verbs, place names) of middle and low frequency and the party terms —
    what people type into a search box — so a query's matches are as spread as in a forum."""

    def __init__(self, seed: int = 12):
        self.rng = random.Random(seed)
        entries = []
        with open(os.path.join(os.path.dirname(jieba.__file__), jieba.DEFAULT_DICT_NAME), encoding="utf-8") as f:
            for line in f:
                word, freq, *tag = line.split()
                entries.append((int(freq), word, tag[0] if tag else ""))
        entries.sort(reverse=True)
        top = entries[:40_000]
        self.vocabulary = [word for _, word, _ in top]
        self.cumulative = list(itertools.accumulate(freq for freq, _, _ in top))
        content = [word for _, word, tag in top if tag in {"n", "v", "vn", "ns", "nz", "a"} and len(word) > 1]
        self.common, self.rare = content[200:3000], content[3000:]
        self.domain = WORDS[:]
        self.rng.shuffle(self.domain)
        self.domain_weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(self.domain))))

    def word(self) -> str:
        rng = self.rng
        if rng.random() < 0.2:
            return rng.choices(self.domain, cum_weights=self.domain_weights)[0]
        return rng.choices(self.vocabulary, cum_weights=self.cumulative)[0]

    def phrase(self, words: int) -> str:
        rng = self.rng
        out = []
        for _ in range(words):
            out.append(self.word())
            roll = rng.random()
            if roll < 0.02:
                out.append(rng.choice(PLACES) + rng.choice(PLACES) + "村")
            elif roll < 0.03:
                out.append(f" {rng.choice(ENGLISH)} ")
            elif roll < 0.04:
                out.append(str(rng.randint(1, 2025)))
            if rng.random() < 0.12:
                out.append(rng.choice(PUNCTUATION))
        return "".join(out) + "。"

    def doc(self, ref_id: int) -> Doc:
        rng = self.rng
        kind = "post" if ref_id % 10 else "topic"
        board = 1 + ref_id % BOARDS
        access = "public" if board <= 5 else f"board:{board}"
        return Doc(
            kind=kind,
            ref_id=ref_id,
            title=self.phrase(rng.randint(3, 8))[:-1] if kind == "topic" else "",
            body=self.phrase(rng.randint(15, 90)),
            url=f"/forum/p/{ref_id}",
            access=access,
            created_at=T0 + timedelta(minutes=ref_id),
            board_id=board,
        )

    def queries(self, count: int) -> list[str]:
        rng = random.Random(99)
        common, rare, domain = self.common, self.rare, self.domain
        made = []
        for i in range(count):
            shape = i % 8
            if shape == 0:
                q = rng.choice(domain)
            elif shape == 1:
                q = rng.choice(rare)
            elif shape == 2:
                q = f"{rng.choice(common)} {rng.choice(rare)}"
            elif shape == 3:
                q = rng.choice(domain) + rng.choice(common)  # Chinese without spaces: segmented
            elif shape == 4:
                q = f'"{rng.choice(common)}{rng.choice(common)}"'
            elif shape == 5:
                q = f"{rng.choice(common)} -{rng.choice(domain)}"
            elif shape == 6:
                q = f"{TRADITIONAL[rng.choice(list(TRADITIONAL))]} {rng.choice(common)}"
            else:
                q = f"{rng.choice(ENGLISH)} {rng.choice(common)}"
            made.append(q)
        return made


@dataclass
class Member:
    tokens: tuple[str, ...]


MEMBER = Member(("public", *(f"board:{b}" for b in range(6, 6 + MEMBER_BOARDS))))


def register_bench_sources() -> None:
    """Searching asks the sources which tokens a reader holds; here the member's are fixed."""
    for kind in ("topic", "post"):
        register_source(Source(kind, KIND_LABELS[kind], lambda ids: [], list, lambda actor: list(actor.tokens)))


def index_corpus(corpus: Corpus) -> tuple[int, float, int, float]:
    """Index batches until the target or the time budget; raw jieba over every 4th batch."""
    backend = get_backend()
    tokenizer = segment.tokenizer()
    indexed = raw_docs = 0
    index_seconds = raw_seconds = 0.0
    batch_no = 0
    while indexed < TARGET_DOCS and index_seconds < BUDGET_SECONDS:
        docs = [corpus.doc(indexed + i + 1) for i in range(min(BATCH, TARGET_DOCS - indexed))]
        if batch_no % 4 == 0:
            start = time.perf_counter()
            for doc in docs:
                tokenizer.lcut_for_search(doc.title, HMM=False)
                tokenizer.lcut_for_search(doc.body, HMM=False)
            raw_seconds += time.perf_counter() - start
            raw_docs += len(docs)
        start = time.perf_counter()
        backend.upsert([service.indexed(doc) for doc in docs])
        index_seconds += time.perf_counter() - start
        indexed += len(docs)
        batch_no += 1
        if batch_no % 10 == 0:
            note(f"  {indexed:,} indexed, {indexed / index_seconds:,.0f} docs/s")
    return indexed, index_seconds, raw_docs, raw_seconds


def time_queries(queries: list[str]) -> list[float]:
    for q in queries[:10]:  # warm caches
        service.search(MEMBER, q)
    times = []
    for q in queries:
        start = time.perf_counter()
        service.search(MEMBER, q)
        times.append((time.perf_counter() - start) * 1000)
    return times


def postgres_p95(sqlite_app, queries: list[str], tmp: str) -> float | None:
    import glob

    from tests.support import postgres

    def find(name: str) -> str | None:
        for directory in sorted(glob.glob(postgres.PG_BIN_DIRS[0]), reverse=True):
            if os.access(os.path.join(directory, name), os.X_OK):
                return os.path.join(directory, name)
        return None

    initdb, pg_ctl = find("initdb"), find("pg_ctl")
    if not initdb or not pg_ctl:
        print("# search.query_postgres.p95 skipped: initdb/pg_ctl not found", flush=True)
        return None
    server = postgres.start(initdb, pg_ctl)
    try:
        server.admin_execute("CREATE DATABASE bench_search")
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": server.url("bench_search"),
                "INSTANCE_PATH": tmp,
                "SEARCH_BACKEND": "postgres",
            }
        )
        with app.app_context():
            upgrade()
        note("copying the index rows into PostgreSQL …")
        with sqlite_app.app_context():
            rows = db.session.execute(select(SearchDoc).execution_options(yield_per=5000)).scalars()
            with app.app_context():
                backend = get_backend()
                for part in chunks_of(rows, 5000):
                    backend.upsert([as_indexed(row) for row in part])
        with app.app_context():
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE search_docs"))
            times = time_queries(queries)
            db.session.remove()
            db.engine.dispose()
        return p95(times)
    finally:
        server.stop()


def as_indexed(row: SearchDoc) -> IndexedDoc:
    doc = Doc(row.kind, row.ref_id, row.title, row.body, row.url, row.access, row.created_at, row.board_id)
    return IndexedDoc(doc, row.title_tokens, row.body_tokens)


def chunks_of(iterable, size: int):
    part = []
    for item in iterable:
        part.append(item)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


def main() -> None:
    register_bench_sources()
    corpus = Corpus()
    queries = corpus.queries(QUERIES)
    with tempfile.TemporaryDirectory(prefix="dangxiao-bench-search-") as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "INSTANCE_PATH": tmp,
                "SEARCH_BACKEND": "sqlite",
            }
        )
        with app.app_context():
            upgrade()
            segment.tokenizer()  # jieba's dictionary loads once per process, not inside a timing
            note(f"indexing up to {TARGET_DOCS:,} posts for at most {BUDGET_SECONDS:.0f} s of indexing …")
            indexed, index_seconds, raw_docs, raw_seconds = index_corpus(corpus)
            print(f"search.docs = {indexed} count", flush=True)
            if indexed < TARGET_DOCS:
                note(f"stopped at the time budget: {indexed:,} of {TARGET_DOCS:,} posts")
            db.session.execute(text("ANALYZE"))
            db.session.commit()
            times = time_queries(queries)
            print(f"search.query.p95 = {p95(times):.1f} ms", flush=True)
            note(f"  sqlite median {sorted(times)[len(times) // 2]:.1f} ms, max {max(times):.1f} ms")
            ratio = (indexed / index_seconds) / (raw_docs / raw_seconds)
            note(f"  indexing {indexed / index_seconds:,.0f} docs/s, bare jieba {raw_docs / raw_seconds:,.0f} docs/s")
        pg = postgres_p95(app, queries, tmp)
        if pg is not None:
            print(f"search.query_postgres.p95 = {pg:.1f} ms", flush=True)
        print(f"search.index_vs_raw_jieba = {ratio:.2f} ratio", flush=True)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
