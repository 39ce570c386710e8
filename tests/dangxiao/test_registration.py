"""Self-registration, usernames that must be refused, and approval by a secretary."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD


def register(client, branch_id, username="newmember", **overrides):
    data = {
        "username": username,
        "display_name": "新党员",
        "password": TEST_PASSWORD,
        "confirm": TEST_PASSWORD,
        "phone": "",
        "branch_id": str(branch_id),
    }
    data.update(overrides)
    return client.post("/accounts/register", data=data)


def test_registration_stays_pending_until_a_secretary_approves(client, auth, create_branch, create_user):
    area = create_branch("城关镇党总支", "general_branch")
    branch = create_branch("东街村党支部", parent=area)
    create_user("secretary", roles=[("branch_secretary", area)], branch=branch)

    assert register(client, branch).status_code == 302
    login = auth.login("newmember")
    assert login.status_code == 401
    assert "等待支部书记或管理员审核" in login.get_data(as_text=True)

    auth.login("secretary")
    page = client.get("/accounts/approvals").get_data(as_text=True)
    assert "newmember" in page
    user_id = int(page.split("/accounts/approvals/")[1].split('"')[0])
    assert client.post(f"/accounts/approvals/{user_id}", data={"decision": "approve"}).status_code == 302
    auth.logout()

    assert auth.login("newmember").status_code == 302


def test_secretary_cannot_approve_outside_their_subtree(client, auth, create_branch, create_user):
    mine = create_branch("我的支部")
    other = create_branch("别人的支部")
    create_user("sec", roles=[("branch_secretary", mine)], branch=mine)
    outsider = create_user("outsider", branch=other, status="pending")

    auth.login("sec")
    assert "outsider" not in client.get("/accounts/approvals").get_data(as_text=True)
    assert client.post(f"/accounts/approvals/{outsider}", data={"decision": "approve"}).status_code == 403
    auth.logout()
    assert auth.login("outsider").status_code == 401


def test_plain_member_cannot_open_approvals(client, auth, create_user):
    create_user("plain")
    auth.login("plain")
    assert client.get("/accounts/approvals").status_code == 403


def test_rejected_registration_cannot_log_in(client, auth, create_branch, create_user):
    branch = create_branch()
    create_user("boss", roles=["admin"])
    register(client, branch, username="rejectme")
    auth.login("boss")
    page = client.get("/accounts/approvals").get_data(as_text=True)
    user_id = int(page.split("/accounts/approvals/")[1].split('"')[0])
    client.post(f"/accounts/approvals/{user_id}", data={"decision": "reject"})
    auth.logout()
    assert "已被停用" in auth.login("rejectme").get_data(as_text=True)


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("", "请填写用户名"),
        ("a" * 33, "不能超过 32 个字符"),
        ("x", "至少 2 个字符"),
        ("zhang san", "不能包含空格"),
        ("zhang\u3000san", "不能包含空格"),
        ("zhang\tsan", "不可见字符"),
        ("zhang\u200bsan", "不可见字符"),
        ("zhang\u202esan", "不可见字符"),
        ("bad<script>", "只能包含"),
    ],
)
def test_bad_usernames_are_refused_with_a_reason(client, create_branch, username, message):
    branch = create_branch()
    response = register(client, branch, username=username)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_chinese_username_is_allowed(client, auth, create_branch):
    assert register(client, create_branch(), username="张三丰").status_code == 302


def test_duplicate_username_is_refused_case_insensitively(client, create_branch, create_user):
    create_user("ZhangSan")
    response = register(client, create_branch(), username="zhangsan")
    assert response.status_code == 400
    assert "该用户名已被使用" in response.get_data(as_text=True)


def test_fullwidth_lookalike_counts_as_duplicate(client, create_branch, create_user):
    create_user("wangwu")
    response = register(client, create_branch(), username="ｗａｎｇｗｕ")
    assert "该用户名已被使用" in response.get_data(as_text=True)


def test_registration_requires_a_branch_and_matching_passwords(client, create_branch):
    no_branch = register(client, 0)
    assert "请选择所在党支部" in no_branch.get_data(as_text=True)
    mismatch = register(client, create_branch(), confirm="something-else")
    assert "两次输入的密码不一致" in mismatch.get_data(as_text=True)


def test_flowing_member_must_give_a_region(client, create_branch):
    response = register(client, create_branch(), is_flowing="y", flowing_region="")
    assert "请填写流入地" in response.get_data(as_text=True)


def test_failed_registration_stores_nothing(app, client, create_branch):
    from sqlalchemy import func, select

    from dangxiao.accounts.models import User
    from dangxiao.extensions import db

    register(client, create_branch(), username="halfway", phone="not-a-phone")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_tampered_select_value_gets_a_chinese_message(client):
    response = register(client, "not-a-number")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "选择无效" in body and "Invalid" not in body
