"""The search index's table: one row per indexed document, the same on every backend.

`title`/`body` are the original text (shown, highlighted); `title_tokens`/`body_tokens` the
folded jieba tokens the engines match. SQLite mirrors the tokens into the FTS5 table
``search_fts`` (rowid = id), PostgreSQL keeps them in the ``tsv`` column (GIN index),
Elasticsearch in its own index — the rows here then only serve reindexing and status.
Both extras are created by migration 0009 for their database only.

`access` is the one token a reader must hold ("public", "course:3", "board:7", "user:12"):
who may read a board or a course is decided when searching, so a permission change needs
no reindex.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dangxiao.db_types import utcnow
from dangxiao.extensions import db


class SearchDoc(db.Model):
    __tablename__ = "search_docs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    ref_id: Mapped[int] = mapped_column(Integer)
    access: Mapped[str] = mapped_column(String(40))
    board_id: Mapped[int | None] = mapped_column(Integer)  # forum board (topics, posts) for the board filter
    category: Mapped[str] = mapped_column(String(40), default="")
    title: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    indexed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    title_tokens: Mapped[str] = mapped_column(Text, default="")
    body_tokens: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        UniqueConstraint("kind", "ref_id", name="uq_search_docs_kind_ref"),
        Index("ix_search_docs_access_created", "access", "created_at"),
    )


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """For autogenerate: the engine-specific parts (FTS5 tables, the tsv column) live in migrations only."""
    if type_ == "table" and name and name.startswith("search_fts"):
        return False
    if type_ == "column" and name == "tsv" and getattr(getattr(obj, "table", None), "name", "") == "search_docs":
        return False
    return not (type_ == "index" and name == "ix_search_docs_tsv")
