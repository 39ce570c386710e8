"""flask seed-demo / users create / users set-password."""

from __future__ import annotations

from sqlalchemy import func, select

from dangxiao.accounts.models import Branch, Role, User
from dangxiao.extensions import db


def test_seed_demo_is_idempotent_and_prints_logins(app, runner):
    first = runner.invoke(args=["seed-demo", "--skip-media"])
    assert first.exit_code == 0, first.output
    for username in ("admin", "moderator", "secretary", "zhangsan", "zhaoliu"):
        assert username in first.output
    with app.app_context():
        counts = (
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(Branch)),
        )
        flowing = db.session.scalar(select(func.count()).select_from(User).where(User.is_flowing))
    second = runner.invoke(args=["seed-demo", "--skip-media"])
    assert second.exit_code == 0
    with app.app_context():
        assert counts == (
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(Branch)),
        )
    assert flowing == 2


def test_demo_admin_can_log_in(runner, auth):
    from dangxiao.demo import DEMO_PASSWORD

    runner.invoke(args=["seed-demo", "--skip-media"])
    assert auth.login("admin", DEMO_PASSWORD).status_code == 302


def test_users_create_with_role_and_branch(app, runner, create_branch):
    create_branch("东街村党支部")
    result = runner.invoke(
        args=[
            "users",
            "create",
            "wang",
            "--role",
            "moderator",
            "--role",
            "member",
            "--branch",
            "东街村党支部",
            "--password",
            "cli-pass-123",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "wang"))
        assert user.role_names == {Role.moderator, Role.member}
        assert user.branch.name == "东街村党支部"
        assert user.check_password("cli-pass-123")


def test_users_create_generates_and_prints_a_password(app, runner):
    result = runner.invoke(args=["users", "create", "gen"])
    assert result.exit_code == 0
    password = result.output.split("初始密码：")[1].strip()
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "gen")).check_password(password)


def test_users_create_refuses_bad_input_in_chinese(runner, create_user):
    create_user("taken")
    assert "已被使用" in runner.invoke(args=["users", "create", "TAKEN"]).output
    assert "空格" in runner.invoke(args=["users", "create", "a b"]).output
    unknown = runner.invoke(args=["users", "create", "x1", "--branch", "不存在的支部"])
    assert unknown.exit_code != 0 and "找不到组织" in unknown.output


def test_users_set_password(app, runner, create_user):
    create_user("reset")
    result = runner.invoke(args=["users", "set-password", "reset"], input="new-password-9\nnew-password-9\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "reset")).check_password("new-password-9")
    missing = runner.invoke(args=["users", "set-password", "ghost"], input="new-password-9\nnew-password-9\n")
    assert missing.exit_code != 0 and "不存在" in missing.output
