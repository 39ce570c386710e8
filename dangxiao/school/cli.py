"""`flask --app wsgi school ...`: the school's operator commands (acting as the system)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from dangxiao.transactions import atomic

school_cli = AppGroup("school", help="网上党校：必修课截止提醒等运维命令。")


@school_cli.command("remind")
def remind_command() -> None:
    """Send today's required-course deadline reminders (safe to rerun: nobody gets one twice)."""
    from dangxiao.school.reminders import send_deadline_reminders

    with atomic():
        sent = send_deadline_reminders()
    click.echo(f"已发送 {sent} 条必修课截止提醒。")
