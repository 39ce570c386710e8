"""Admin pages: thin wrappers over accounts services."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dangxiao.access import role
from dangxiao.accounts import branches as branch_service
from dangxiao.accounts import services
from dangxiao.accounts.forms import new_user_from
from dangxiao.accounts.models import UserStatus
from dangxiao.admin.forms import (
    BranchForm,
    DeleteForm,
    ResetPasswordForm,
    RoleForm,
    StatusForm,
    UserEditForm,
    UserForm,
)
from dangxiao.errors import DomainError
from dangxiao.forms_util import attach_error, options
from dangxiao.queries import id_arg
from dangxiao.transactions import atomic

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN = role("admin")
ACCESS = {
    view: ADMIN
    for view in (
        "index",
        "users",
        "user_new",
        "user_edit",
        "user_status",
        "user_password",
        "role_add",
        "role_remove",
        "branches",
        "branch_new",
        "branch_edit",
        "branch_delete",
    )
}


def _branch_options(empty_label: str) -> list:
    return options([(0, empty_label)] + [(b.id, "　" * depth + b.name) for b, depth in branch_service.tree_rows()])


@bp.route("/")
def index():
    return redirect(url_for("admin.users"))


@bp.route("/users")
def users():
    query = request.args.get("q", "")[:50]
    status = request.args.get("status", "")
    branch_id = id_arg(request.args.get("branch_id"))
    return render_template(
        "admin/users.html",
        users=services.search_users(query, status, branch_id),
        q=query,
        status=status,
        branch_id=branch_id or 0,
        branch_options=_branch_options("全部组织"),
        status_choices=UserStatus.choices(),
    )


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form = UserForm()
    form.branch_id.choices = _branch_options("（不属于任何组织）")
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                user = services.create_user(current_user, new_user_from(form), roles=[(form.role.data, None)])
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash(f"已创建用户 {user.username}。", "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    elif request.method == "POST":
        status = 400
    return render_template("admin/user_new.html", form=form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):
    user = services.get_user(user_id)
    form = UserEditForm(obj=user)
    form.branch_id.choices = _branch_options("（不属于任何组织）")
    if request.method == "GET":
        form.branch_id.data = user.branch_id or 0
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                services.update_user(
                    current_user,
                    user,
                    form.display_name.data,
                    form.branch_id.data or None,
                    form.phone.data,
                    form.is_flowing.data,
                    form.flowing_region.data,
                )
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash("用户信息已保存。", "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    elif request.method == "POST":
        status = 400
    role_form = RoleForm()
    role_form.scope_branch_id.choices = _branch_options("全部（不限范围）")
    return (
        render_template(
            "admin/user_edit.html",
            user=user,
            form=form,
            role_form=role_form,
            status_form=StatusForm(status=user.status.value),
            password_form=ResetPasswordForm(),
            delete_form=DeleteForm(),
        ),
        status,
    )


def _user_action(user_id: int, form, action, done) -> Response:
    """Run one admin action on a user as the current admin; the message says what happened."""
    if not form.validate_on_submit():
        flash("提交的内容不正确，请重试。", "error")
        return redirect(url_for("admin.user_edit", user_id=user_id))
    user = services.get_user(user_id)
    try:
        with atomic():
            action(user)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(done(user), "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.route("/users/<int:user_id>/status", methods=["POST"])
def user_status(user_id: int):
    form = StatusForm()
    return _user_action(
        user_id,
        form,
        lambda u: services.set_status(current_user, u, form.status.data),
        lambda u: f"账号状态已改为“{u.status.label}”。",
    )


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def user_password(user_id: int):
    form = ResetPasswordForm()
    return _user_action(
        user_id,
        form,
        lambda u: services.set_password(current_user, u, form.password.data or ""),
        lambda u: "密码已重置，该用户的所有登录已失效。",
    )


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
def role_add(user_id: int):
    form = RoleForm()
    form.scope_branch_id.choices = _branch_options("")
    return _user_action(
        user_id,
        form,
        lambda u: services.add_role(current_user, u, form.role.data, form.scope_branch_id.data or None),
        lambda u: "角色已添加。",
    )


@bp.route("/users/<int:user_id>/roles/<int:role_id>/delete", methods=["POST"])
def role_remove(user_id: int, role_id: int):
    return _user_action(
        user_id, DeleteForm(), lambda u: services.remove_role(current_user, u, role_id), lambda u: "角色已移除。"
    )


@bp.route("/branches")
def branches():
    return render_template("admin/branches.html", rows=branch_service.tree_rows())


def _branch_form_page(form: BranchForm, branch=None):
    status = 200
    if form.validate_on_submit():
        try:
            args = (form.name.data, form.kind.data, form.parent_id.data or None, form.region_code.data)
            with atomic():
                if branch is None:
                    saved = branch_service.create_branch(current_user, *args)
                else:
                    saved = branch_service.update_branch(current_user, branch.id, *args)
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash(f"已保存组织“{saved.name}”。", "success")
            return redirect(url_for("admin.branches"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/branch_form.html", form=form, branch=branch), status


@bp.route("/branches/new", methods=["GET", "POST"])
def branch_new():
    form = BranchForm()
    form.parent_id.choices = _branch_options("（无上级，作为根组织）")
    parent_id = id_arg(request.args.get("parent_id"))
    if request.method == "GET" and parent_id:
        form.parent_id.data = parent_id
    return _branch_form_page(form)


@bp.route("/branches/<int:branch_id>", methods=["GET", "POST"])
def branch_edit(branch_id: int):
    branch = branch_service.get_branch(branch_id)
    form = BranchForm(obj=branch)
    form.parent_id.choices = _branch_options("（无上级，作为根组织）")
    if request.method == "GET":
        form.parent_id.data = branch.parent_id or 0
        form.kind.data = branch.kind.value
    return _branch_form_page(form, branch)


@bp.route("/branches/<int:branch_id>/delete", methods=["GET", "POST"])
def branch_delete(branch_id: int):
    """GET asks for confirmation (no script needed); POST deletes or says why it cannot."""
    branch = branch_service.get_branch(branch_id)
    form = DeleteForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            with atomic():
                name = branch_service.delete_branch(current_user, branch_id)
        except DomainError as error:
            flash(error.message, "error")
            return redirect(url_for("admin.branches"))
        flash(f"组织“{name}”已删除。", "success")
        return redirect(url_for("admin.branches"))
    return render_template("admin/branch_delete.html", branch=branch, form=form)
