"""The same rules refuse through the web, the JSON API and the CLI (services enforce them)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dangxiao import policy
from dangxiao.accounts.models import User, UserStatus
from dangxiao.extensions import db
from dangxiao.notifications.models import Notification


@pytest.fixture
def org(create_branch, create_user):
    general = create_branch("城关镇党总支", "general_branch")
    east = create_branch("东街村党支部", parent=general)
    other = create_branch("青山乡茶园村党支部")
    create_user("sec", roles=["member", ("branch_secretary", general)], branch=east)
    create_user("boss", roles=["admin"])
    return {
        "inside": create_user("inside", branch=east, status="pending"),
        "outside": create_user("outside", branch=other, status="pending"),
    }


def _status(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).status


def test_unknown_actions_and_anonymous_actors_are_refused():
    assert not policy.can(policy.SYSTEM, "no.such.action")
    assert not policy.can(None, "user.manage")


def test_secretary_outside_scope_is_refused_on_the_web(app, client, auth, org):
    auth.login("sec")
    response = client.post(f"/accounts/approvals/{org['outside']}", data={"decision": "approve"})
    assert response.status_code == 403
    assert "管辖" in response.get_data(as_text=True)
    assert _status(app, org["outside"]) == UserStatus.pending
    response = client.post(f"/accounts/approvals/{org['inside']}", data={"decision": "approve"})
    assert response.status_code == 302
    assert _status(app, org["inside"]) == UserStatus.active


def test_secretary_outside_scope_is_refused_through_the_cli(app, runner, org):
    result = runner.invoke(args=["users", "decide", "outside", "approve", "--as", "sec"])
    assert result.exit_code != 0
    assert "管辖" in result.output
    assert _status(app, org["outside"]) == UserStatus.pending
    with app.app_context():
        assert db.session.scalars(select(Notification)).all() == []  # refused: nobody was told anything

    result = runner.invoke(args=["users", "decide", "inside", "approve", "--as", "sec"])
    assert result.exit_code == 0, result.output
    assert _status(app, org["inside"]) == UserStatus.active


def test_member_cannot_disable_anyone_through_the_cli(app, runner, org, create_user):
    create_user("plain")
    result = runner.invoke(args=["users", "set-status", "boss", "disabled", "--as", "plain"])
    assert result.exit_code != 0 and "没有权限" in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "boss")).status == UserStatus.active


def test_admin_cannot_lock_himself_out_through_the_cli_either(app, runner, org):
    result = runner.invoke(args=["users", "set-status", "boss", "disabled", "--as", "boss"])
    assert result.exit_code != 0 and "锁在系统外" in result.output
    result = runner.invoke(args=["users", "set-status", "sec", "disabled"])  # the operator (SYSTEM) may
    assert result.exit_code == 0, result.output


def test_already_decided_registration_is_reported_not_repeated(app, client, auth, org):
    auth.login("boss")
    client.post(f"/accounts/approvals/{org['inside']}", data={"decision": "reject"})
    page = client.post(
        f"/accounts/approvals/{org['inside']}", data={"decision": "approve"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "该申请已处理" in page
    assert _status(app, org["inside"]) == UserStatus.disabled
