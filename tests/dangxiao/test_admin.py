"""Admins manage users, roles and the organisation tree through the web pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dangxiao.accounts.models import Branch, Role, User, UserStatus
from dangxiao.extensions import db


@pytest.fixture
def admin(client, auth, create_user):
    create_user("root", roles=["admin"])
    auth.login("root")
    return client


def _user(app, username):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        return user.id if user else None


def test_admin_creates_a_user_who_can_log_in(app, admin, auth, create_branch):
    branch = create_branch("东街村党支部")
    response = admin.post(
        "/admin/users/new",
        data={
            "username": "newbie",
            "display_name": "新人",
            "password": "initial-pass",
            "branch_id": branch,
            "role": "moderator",
        },
    )
    assert response.status_code == 302
    auth.logout()
    assert auth.login("newbie", "initial-pass").status_code == 302
    with app.app_context():
        user = db.session.get(User, _user(app, "newbie"))
        assert user.status == UserStatus.active and user.branch_id == branch
        assert user.role_names == {Role.moderator}


def test_admin_create_duplicate_username_shows_reason(admin, create_user):
    create_user("Existing")
    response = admin.post(
        "/admin/users/new", data={"username": "EXISTING", "password": "initial-pass", "role": "member"}
    )
    assert response.status_code == 400
    assert "该用户名已被使用" in response.get_data(as_text=True)


def test_admin_adds_a_scoped_role_and_removes_it(app, admin, create_branch, create_user):
    town = create_branch("城关镇党总支", "general_branch")
    user_id = create_user("sec", roles=["member"])
    admin.post(f"/admin/users/{user_id}/roles", data={"role": "branch_secretary", "scope_branch_id": town})
    with app.app_context():
        user = db.session.get(User, user_id)
        scoped = next(r for r in user.roles if r.role == Role.branch_secretary)
        assert scoped.scope_branch_id == town
        role_id = scoped.id
    duplicate = admin.post(
        f"/admin/users/{user_id}/roles",
        data={"role": "branch_secretary", "scope_branch_id": town},
        follow_redirects=True,
    )
    assert "已拥有此角色" in duplicate.get_data(as_text=True)
    admin.post(f"/admin/users/{user_id}/roles/{role_id}/delete")
    with app.app_context():
        assert db.session.get(User, user_id).role_names == {Role.member}


def test_admin_disables_and_reenables_an_account(app, admin, auth, create_user):
    user_id = create_user("flaky")
    admin.post(f"/admin/users/{user_id}/status", data={"status": "disabled"})
    with app.app_context():
        assert db.session.get(User, user_id).status == UserStatus.disabled
    admin.post(f"/admin/users/{user_id}/status", data={"status": "bogus"})
    with app.app_context():
        assert db.session.get(User, user_id).status == UserStatus.disabled


def test_admin_resets_a_password(admin, auth, create_user):
    user_id = create_user("forgetful")
    admin.post(f"/admin/users/{user_id}/password", data={"password": "reset-pass-1"})
    auth.logout()
    assert auth.login("forgetful", "reset-pass-1").status_code == 302


def test_admin_edits_user_with_bad_phone_keeps_old_values(app, admin, create_user):
    user_id = create_user("editme", display_name="旧名", phone="13800138000")
    response = admin.post(f"/admin/users/{user_id}", data={"display_name": "新名", "phone": "abc", "branch_id": 0})
    assert response.status_code == 400
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.display_name, user.phone) == ("旧名", "13800138000")


def test_admin_user_list_filters(admin, create_user):
    create_user("alpha", display_name="甲")
    create_user("beta", display_name="乙", status="pending")
    page = admin.get("/admin/users?status=pending").get_data(as_text=True)
    assert "beta" in page and "alpha" not in page
    assert "alpha" in admin.get("/admin/users?q=甲").get_data(as_text=True)


def test_admin_builds_the_tree_through_pages(app, admin):
    admin.post(
        "/admin/branches/new", data={"name": "县委", "kind": "committee", "parent_id": 0, "region_code": "330100"}
    )
    with app.app_context():
        root = db.session.scalar(select(Branch).where(Branch.name == "县委")).id
    admin.post("/admin/branches/new", data={"name": "东街村党支部", "kind": "branch", "parent_id": root})
    page = admin.get("/admin/branches").get_data(as_text=True)
    assert "县委" in page and "东街村党支部" in page


def test_admin_cannot_make_a_branch_its_own_ancestor_via_page(app, admin, create_branch):
    root = create_branch("县委", "committee")
    child = create_branch("城关镇党总支", "general_branch", parent=root)
    response = admin.post(f"/admin/branches/{root}", data={"name": "县委", "kind": "committee", "parent_id": child})
    assert response.status_code == 400
    assert "不能把组织移动到它自己或它的下级组织之下" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Branch, root).parent_id is None


def test_deleting_a_branch_with_members_is_refused_on_the_page(app, admin, create_branch, create_user):
    branch = create_branch("有人的支部")
    create_user("resident", branch=branch)
    response = admin.post(f"/admin/branches/{branch}/delete", follow_redirects=True)
    assert "还有 1 名成员" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Branch, branch) is not None


def test_missing_user_is_a_chinese_404(admin):
    response = admin.get("/admin/users/999999")
    assert response.status_code == 404
    assert "用户不存在" in response.get_data(as_text=True)


def test_admin_cannot_lock_themselves_out(app, admin):
    me = _user(app, "root")
    with app.app_context():
        role_id = db.session.get(User, me).roles[0].id
    response = admin.post(f"/admin/users/{me}/roles/{role_id}/delete", follow_redirects=True)
    assert "不能移除自己的管理员角色" in response.get_data(as_text=True)
    response = admin.post(f"/admin/users/{me}/status", data={"status": "disabled"}, follow_redirects=True)
    assert "不能更改自己的账号状态" in response.get_data(as_text=True)
    assert admin.get("/admin/users").status_code == 200
