"""`flask --app wsgi ...` commands: seed-demo and users create/set-password."""

from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from dangxiao.accounts import services
from dangxiao.accounts.branches import find_branch_by_name, get_branch
from dangxiao.accounts.models import ROLE_LABELS, Role
from dangxiao.errors import DomainError

users_cli = AppGroup("users", help="管理用户账号。")


def _resolve_branch(value: str | None) -> int | None:
    if not value:
        return None
    if value.isdigit():
        return get_branch(int(value)).id
    branch = find_branch_by_name(value)
    if branch is None:
        raise DomainError(f"找不到组织“{value}”。", "branch_not_found")
    return branch.id


@users_cli.command("create")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice([r.value for r in Role]),
    default=["member"],
    show_default=True,
    help="可重复指定多个角色",
)
@click.option("--branch", help="所在组织的名称或编号")
@click.option("--scope", help="角色管辖的组织（名称或编号），默认不限")
@click.option("--display-name", default="", help="姓名，默认同用户名")
@click.option("--phone", default=None)
@click.option("--password", default=None, help="不指定则随机生成并打印")
def create_user_command(username, roles, branch, scope, display_name, phone, password):
    """Create an active account (an admin's job, from the shell)."""
    generated = password is None
    password = password or secrets.token_urlsafe(9)
    try:
        scope_id = _resolve_branch(scope)
        user = services.create_user(
            services.NewUser(
                username=username,
                password=password,
                display_name=display_name,
                branch_id=_resolve_branch(branch),
                phone=phone,
            ),
            roles=[(r, scope_id) for r in roles],
        )
    except DomainError as error:
        raise click.ClickException(error.message) from None
    labels = "、".join(ROLE_LABELS[Role(r)] for r in roles)
    click.echo(f"已创建用户 {user.username}（{labels}）")
    if generated:
        click.echo(f"初始密码：{password}")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password", prompt="新密码", hide_input=True, confirmation_prompt="再次输入")
def set_password_command(username, password):
    """Reset a password; the user's other sessions end."""
    user = services.find_user(username)
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在。")
    try:
        services.set_password(user, password)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"已重置 {user.username} 的密码。")


@click.command("seed-demo")
@click.option("--skip-media", is_flag=True, help="不生成演示视频")
@with_appcontext
def seed_demo_command(skip_media: bool):
    """Load demo branches and accounts (safe to run again)."""
    from dangxiao.demo import seed_demo
    from media.demo import seed_demo_media

    for line in seed_demo():
        click.echo(line)
    if not skip_media:
        click.echo("演示媒体（首次运行需转码约半分钟）：")
        for line in seed_demo_media():
            click.echo(line)


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_demo_command)
