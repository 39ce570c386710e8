"""`flask --app wsgi ...` commands: seed-demo and users create/set-password."""

from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from dangxiao.accounts import services
from dangxiao.accounts.branches import find_branch_by_name, get_branch
from dangxiao.accounts.models import Role, UserStatus
from dangxiao.errors import DomainError
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic

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
        with atomic():
            user = services.create_user(
                SYSTEM,
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
    labels = "、".join(Role(r).label for r in roles)
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
        with atomic():
            services.set_password(SYSTEM, user, password)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"已重置 {user.username} 的密码。")


def _actor(username: str | None):
    """SYSTEM (the operator at the shell), or `--as USER` to act with that user's rights."""
    if not username:
        return SYSTEM
    user = services.find_user(username)
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在。")
    return user


def _target(username: str):
    user = services.find_user(username)
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在。")
    return user


@users_cli.command("set-status")
@click.argument("username")
@click.argument("status", type=click.Choice([s.value for s in UserStatus]))
@click.option("--as", "as_user", help="以该用户的身份和权限执行（默认：系统）")
def set_status_command(username, status, as_user):
    """Enable or disable an account (disabling ends its sessions)."""
    try:
        with atomic():
            user = services.set_status(_actor(as_user), _target(username), status)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{user.username} 的账号状态：{user.status.label}")


@users_cli.command("decide")
@click.argument("username")
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.option("--as", "as_user", help="以该用户的身份和权限执行（默认：系统）")
def decide_command(username, decision, as_user):
    """Approve or reject a pending registration; the applicant is notified."""
    try:
        with atomic():
            user = services.decide_registration(_actor(as_user), _target(username), decision)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{user.username}：{'已通过' if decision == 'approve' else '已拒绝'}")


@click.command("seed-demo")
@click.option("--skip-media", is_flag=True, help="不生成演示视频")
@with_appcontext
def seed_demo_command(skip_media: bool):
    """Load demo branches and accounts (safe to run again)."""
    from dangxiao.demo import seed_demo
    from dangxiao.school.demo import seed_school_demo
    from dangxiao.school.demo_history import seed_study_history
    from dangxiao.tv.demo import seed_tv
    from forum.demo import seed_forum
    from forum.helpdesk.demo import seed_helpdesk
    from forum.live.demo import seed_live
    from media.demo import seed_demo_media

    for line in seed_demo():
        click.echo(line)
    if not skip_media:
        click.echo("演示媒体（首次运行需转码约半分钟）：")
        for line in seed_demo_media():
            click.echo(line)
    for line in seed_school_demo():
        click.echo(line)
    for line in seed_study_history():
        click.echo(line)
    for line in seed_forum():
        click.echo(line)
    for line in seed_helpdesk():
        click.echo(line)
    for line in seed_tv():
        click.echo(line)
    for line in seed_live():
        click.echo(line)


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_demo_command)
