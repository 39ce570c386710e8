"""`flask --app wsgi helpdesk ...`: overdue reminders (run it from cron, e.g. hourly)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from dangxiao.transactions import atomic

helpdesk_cli = AppGroup("helpdesk", help="流动党员之家：逾期提醒、热点问题。")


@helpdesk_cli.command("remind")
def remind_command() -> None:
    """Notify the handlers of each overdue, unanswered request once."""
    from forum.helpdesk import workflow

    with atomic():
        count = workflow.remind_overdue()
    click.echo(f"已提醒 {count} 条逾期求助。")


@helpdesk_cli.command("hot-topics")
@click.option("--days", type=click.IntRange(1, 365), default=None, help="统计最近多少天（默认 HELPDESK_HOT_DAYS）。")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True, help="列出前多少个。")
def hot_topics_command(days: int | None, limit: int) -> None:
    """Segment the posts and requests not seen yet, then print the ranked hot topics.

    Run it once after deploying: the first run segments the whole backlog (~1,000 texts a second).
    """
    from forum.helpdesk import hot

    with atomic():
        added = hot.ingest()
        topics = hot.hot_topics(days, limit)
    click.echo(f"新分词 {added} 篇。")
    if not topics:
        click.echo("暂无热点问题。")
    for n, t in enumerate(topics, start=1):
        click.echo(f"{n:>3}. {t.term}\t{t.count} 篇（前一时段 {t.previous}）\t{t.arrow} {t.trend_label}")
