"""The search service: viewer tokens from the sources, pages, highlighting, and an index that
follows commits (ORM hook and explicit touch), never rollbacks; reindex, status, CLI, /healthz.

The sources here are test-only (the real ones belong to the school and the forum): "topic"
and "help" documents live in a dict, "course" documents are read from the branches table so
the ORM hook and bulk UPDATEs are exercised on real rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask import current_app
from sqlalchemy import update

import dangxiao.search as search_pkg
from dangxiao.accounts.models import Branch
from dangxiao.extensions import db
from dangxiao.search import KIND_LABELS, Doc, Source, register_source, service
from dangxiao.search.cli import search_cli
from dangxiao.transactions import atomic

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@dataclass
class Viewer:
    tokens: tuple[str, ...] = ()


ANONYMOUS = Viewer()


@pytest.fixture
def store(ctx, monkeypatch) -> dict[tuple[str, int], Doc]:
    """Test sources only (the real ones are put back afterwards); returns the in-memory documents."""
    monkeypatch.setattr(search_pkg, "_SOURCES", {})
    monkeypatch.setattr(service, "_WATCHED", {})
    docs: dict[tuple[str, int], Doc] = {}

    def memory_source(kind: str, prefix: str) -> Source:
        def load(ids):
            return [docs[(kind, i)] for i in ids if (kind, i) in docs]

        def all_ids():
            return [i for k, i in docs if k == kind]

        def viewer_tokens(actor):
            return ["public"] + [t for t in getattr(actor, "tokens", ()) if t.startswith(prefix)]

        return Source(kind, KIND_LABELS[kind], load, all_ids, viewer_tokens)

    def load_branches(ids):
        rows = db.session.scalars(db.select(Branch).where(Branch.id.in_(ids)))
        return [Doc("course", b.id, b.name, "支部简介", f"/b/{b.id}", "public", b.created_at) for b in rows]

    def branch_ids():
        return db.session.scalars(db.select(Branch.id)).all()

    register_source(memory_source("topic", "board:"))
    register_source(memory_source("help", "user:"))
    register_source(Source("course", "课程", load_branches, branch_ids, lambda actor: ["public"]))
    service.watch(Branch, "course")
    return docs


def put(docs, kind: str, ref_id: int, title: str, body: str = "", access: str = "public") -> None:
    docs[(kind, ref_id)] = Doc(kind, ref_id, title, body, f"/{kind}/{ref_id}", access, T0)


def titles(results) -> set[str]:
    return {str(hit.title_html) for hit in results.hits}


def test_viewer_sees_only_what_their_tokens_allow_with_highlights(store):
    put(store, "topic", 1, "组织关系转接", "外出务工党员的组织关系怎么转？" * 10, access="board:1")
    put(store, "topic", 2, "私密版块：组织关系", "", access="board:9")
    put(store, "help", 3, "我的组织关系求助", "", access="user:7")
    put(store, "help", 4, "别人的组织关系求助", "", access="user:8")
    put(store, "topic", 5, "公开的组织关系问答", "")
    service.index_now("topic", [1, 2, 5])
    service.index_now("help", [3, 4])

    member = Viewer(("board:1", "user:7"))
    found = service.search(member, "组织关系")
    assert found.total == 3 and found.counts == {"topic": 2, "help": 1}
    assert "私密版块：<mark>组织关系</mark>" not in titles(found)
    first = next(hit for hit in found.hits if hit.ref_id == 1)
    assert str(first.title_html) == "<mark>组织关系</mark>转接"
    assert "<mark>组织关系</mark>" in first.snippet_html and first.snippet_html.endswith("…")
    assert first.url == "/topic/1" and first.kind == "topic"

    anonymous = service.search(ANONYMOUS, "組織關係")  # traditional characters fold
    assert [(hit.kind, hit.ref_id) for hit in anonymous.hits] == [("topic", 5)]
    assert service.search(member, "组织关系", kind="help").total == 1


def test_empty_queries_and_a_page_past_the_end(store):
    for i in range(1, 13):
        put(store, "topic", i, f"学习体会{i}", "两学一做")
    service.index_now("topic", range(1, 13))
    for q in ("", "   ", "，。！？……", '"', "-学习"):
        empty = service.search(ANONYMOUS, q)
        assert (empty.total, empty.hits, empty.page, empty.pages) == (0, [], 1, 1)
    last = service.search(ANONYMOUS, "两学一做", page=99, per_page=5)
    assert (last.total, last.page, last.pages, len(last.hits)) == (12, 3, 3, 2)
    by_date = service.search(ANONYMOUS, "学习", sort="date", page=-4, per_page=5)
    assert by_date.page == 1 and len(by_date.hits) == 5 and not by_date.capped
    current_app.config["SEARCH_MAX_MATCHES"] = 10
    capped = service.search(ANONYMOUS, "学习")
    assert (capped.total, capped.pages, capped.capped) == (10, 1, True)


def test_orm_changes_reach_the_index_only_when_committed(store, create_branch):
    branch_id = create_branch("东街村党支部")  # its own unit of work; indexed after its commit
    assert titles(service.search(ANONYMOUS, "东街村")) == {"<mark>东街村</mark>党支部"}

    with atomic():
        db.session.get(Branch, branch_id).name = "西街村党支部"
        db.session.flush()
        assert service.search(ANONYMOUS, "西街村").total == 0  # not before the commit
    assert service.search(ANONYMOUS, "西街村").total == 1
    assert service.search(ANONYMOUS, "东街村").total == 0

    with pytest.raises(RuntimeError), atomic():
        db.session.get(Branch, branch_id).name = "南街村党支部"
        db.session.flush()
        raise RuntimeError("the rest of the unit of work failed")
    with atomic():
        db.session.add(Branch(name="无关支部", kind="branch"))  # a later commit must not replay the marks
    assert service.search(ANONYMOUS, "南街村").total == 0
    assert service.search(ANONYMOUS, "西街村").total == 1

    with atomic():
        db.session.delete(db.session.get(Branch, branch_id))
    assert service.search(ANONYMOUS, "西街村").total == 0


def test_touch_after_a_bulk_update_waits_for_the_commit(store, create_branch):
    branch_id = create_branch("茶园村党支部")
    with atomic():
        db.session.execute(update(Branch).where(Branch.id == branch_id).values(name="果园村党支部"))
        service.touch("course", [branch_id])  # the ORM hook cannot see a bulk UPDATE
        assert service.search(ANONYMOUS, "果园村").total == 0
    assert service.search(ANONYMOUS, "果园村").total == 1

    with pytest.raises(RuntimeError), atomic():
        db.session.execute(update(Branch).where(Branch.id == branch_id).values(name="竹园村党支部"))
        service.touch("course", [branch_id])
        raise RuntimeError("rolled back")
    assert service.search(ANONYMOUS, "竹园村").total == 0
    assert service.search(ANONYMOUS, "果园村").total == 1


def test_an_indexing_failure_is_logged_and_the_commit_stands(store, caplog):
    def broken(ids):
        raise RuntimeError("source down")

    register_source(Source("topic", "主题", broken, list, lambda actor: ["public"]))
    with caplog.at_level(logging.ERROR, logger="dangxiao.search.service"), atomic():
        db.session.add(Branch(name="新建支部", kind="branch"))
        db.session.flush()
        service.touch("topic", [1])
    assert db.session.scalar(db.select(Branch.id).where(Branch.name == "新建支部"))
    assert "search: loading" in caplog.text
    assert service.search(ANONYMOUS, "新建支部").total == 1  # the other marks were still indexed


def test_reindex_status_cli_and_healthz(store, app, client, create_branch):
    create_branch("双河村党支部")
    put(store, "topic", 1, "乡村振兴", "")
    put(store, "help", 2, "旧求助", "", access="user:3")
    service.index_now("help", [2])
    del store[("help", 2)]  # gone from its source without the index being told
    branches = db.session.query(Branch).count()

    result = app.test_cli_runner().invoke(search_cli, ["reindex"])
    assert result.exit_code == 0, result.output
    assert f"已索引 {branches + 1} 篇文档" in result.output
    assert service.status() == {"backend": service.get_backend().name, "documents": branches + 1}
    assert service.search(Viewer(("user:3",)), "旧求助").total == 0
    assert service.search(ANONYMOUS, "乡村振兴").total == 1

    status = app.test_cli_runner().invoke(search_cli, ["status"])
    assert f"文档数：{branches + 1}" in status.output
    checks = client.get("/healthz").get_json()["checks"]  # from this machine: details
    assert checks["search"] == {"ok": True, **service.status()}
