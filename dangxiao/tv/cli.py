"""``flask --app wsgi devices …``: register receiving stations and manage their keys from the shell.

``create`` and ``rotate`` print the key alone on their last line, so a script can take it with
``tail -n 1``. The commands act as SYSTEM, each in one transaction.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from dangxiao.accounts.branches import find_branch_by_name
from dangxiao.accounts.models import Branch
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.queries import id_arg
from dangxiao.transactions import atomic

devices_cli = AppGroup("devices", help="接收站点机顶盒：登记、密钥、吊销。")


def _branch_id(value: str) -> int:
    """A branch given by id or exact name."""
    number = id_arg(value)
    branch = db.session.get(Branch, number) if number is not None else None
    if branch is None:
        branch = find_branch_by_name(value)
    if branch is None:
        raise DomainError(f"找不到组织“{value}”（请填写组织编号或完整名称）。", "branch_not_found")
    return branch.id


def _device(name: str):
    from dangxiao.tv.devices import get_device_by_name

    device = get_device_by_name(name)
    if device is None:
        raise DomainError(f"找不到接收站点“{name}”。", "device_not_found")
    return device


@devices_cli.command("create")
@click.argument("name")
@click.option("--branch", required=True, help="所属党组织的编号或完整名称")
@click.option("--village", default="", help="所在村（社区）")
@click.option("--contact", default="", help="联系人及电话")
def create_command(name: str, branch: str, village: str, contact: str) -> None:
    """Register a station; the last line printed is its key (shown only now)."""
    from dangxiao.tv.devices import create_device

    try:
        with atomic():
            device, key = create_device(SYSTEM, name, _branch_id(branch), village, contact)
            line = f"已登记接收站点“{device.name}”（{device.branch.name}），密钥只显示这一次："
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(line)
    click.echo(key)


@devices_cli.command("rotate")
@click.argument("name")
def rotate_command(name: str) -> None:
    """Issue a new key (the old one stops working at once); the last line printed is the key."""
    from dangxiao.tv.devices import rotate_key

    try:
        with atomic():
            device, key = rotate_key(SYSTEM, _device(name).id)
            line = f"已为“{device.name}”更换密钥，旧密钥已失效。新密钥只显示这一次："
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(line)
    click.echo(key)


@devices_cli.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Revoke a station's key: its box is refused from the next request on."""
    from dangxiao.tv.devices import revoke

    try:
        with atomic():
            device = revoke(SYSTEM, _device(name).id)
            line = f"已吊销接收站点“{device.name}”。"
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(line)


@devices_cli.command("restore")
@click.argument("name")
def restore_command(name: str) -> None:
    """Undo a revocation (the station's current key works again)."""
    from dangxiao.tv.devices import restore

    try:
        with atomic():
            device = restore(SYSTEM, _device(name).id)
            line = f"已恢复接收站点“{device.name}”。"
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(line)


@devices_cli.command("list")
def list_command() -> None:
    """Every station: name, branch, status, last seen (tab-separated)."""
    from dangxiao.templating import localtime
    from dangxiao.tv.devices import list_devices

    rows = list_devices()
    if not rows:
        click.echo("还没有登记接收站点。")
        return
    click.echo("站点名称\t所属党组织\t状态\t最近访问")
    for d in rows:
        status = "已吊销" if d.revoked_at else "正常"
        seen = f"{localtime(d.last_seen_at)} {d.last_seen_ip}".strip() if d.last_seen_at else "从未访问"
        click.echo(f"{d.name}\t{d.branch.name}\t{status}\t{seen}")
