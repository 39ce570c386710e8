"""`flask --app wsgi search ...`: rebuild the index, see what it holds."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from dangxiao.search.service import reindex, reindex_size, status

search_cli = AppGroup("search", help="全文检索：重建索引、查看索引状态。")


@search_cli.command("reindex")
def reindex_command() -> None:
    """Rebuild the index from every source (searching keeps working meanwhile); safe to rerun."""
    with click.progressbar(length=reindex_size(), label="重建索引") as bar:
        indexed = reindex(progress=bar.update)
    info = status()
    click.echo(f"已索引 {indexed} 篇文档（{info['backend']}，共 {info['documents']} 篇）。")


@search_cli.command("status")
def status_command() -> None:
    """Which engine answers searches and how many documents it holds."""
    info = status()
    click.echo(f"检索引擎：{info['backend']}\n文档数：{info['documents']}")
