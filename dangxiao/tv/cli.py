"""``flask devices …`` (stub until written)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

devices_cli = AppGroup("devices", help="接收站点机顶盒：登记、密钥、吊销。")


@devices_cli.command("list")
def list_command() -> None:
    click.echo("")
