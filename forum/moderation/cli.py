"""`flask --app wsgi moderation ...`: check text, import and export word lists (acting as the system)."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from dangxiao.errors import DomainError
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from forum.moderation.engine import ACTIONS, SCOPES

moderation_cli = AppGroup("moderation", help="关键词审核：检查文本、导入导出词表。")


@moderation_cli.command("check")
@click.option("--scope", type=click.Choice(SCOPES), default=None, help="适用范围（默认：所有规则）。")
def check_command(scope: str | None) -> None:
    """Read text on stdin, print one JSON verdict line (offsets in characters). Does not count hits."""
    from forum.moderation import rules

    text = sys.stdin.read()
    verdict = rules.check(text, scope)
    click.echo(json.dumps(verdict.as_dict(), ensure_ascii=False))


@moderation_cli.command("import")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--action", type=click.Choice(ACTIONS), required=True, help="词表的处理方式（CSV 行可自带）。")
@click.option("--scope", type=click.Choice(SCOPES), default="all", show_default=True, help="适用范围。")
@click.option("--category", default="", help="tag 规则的类别。")
def import_command(path: str, action: str, scope: str, category: str) -> None:
    """Import a TXT (one word a line) or CSV (word,action,scope) list: UTF-8 (BOM or not) or GBK."""
    from forum.moderation import rules

    with open(path, "rb") as handle:
        data = handle.read()
    try:
        with atomic():
            added = rules.import_rules(SYSTEM, data, action=action, scope=scope, category=category, filename=path)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"已添加 {added} 条规则。")


@moderation_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(("csv", "txt")), default="csv", show_default=True)
@click.option("--all", "include_disabled", is_flag=True, help="包括已停用的规则。")
def export_command(fmt: str, include_disabled: bool) -> None:
    """Print the rules (CSV: word,action,scope,category with a header; TXT: words only)."""
    from forum.moderation import rules

    with atomic():
        text = rules.export_rules(SYSTEM, fmt, enabled_only=not include_disabled)
    click.echo(text, nl=False)
