"""Login, logout, self-registration, profile, password and approvals."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from dangxiao.access import LOGIN, PUBLIC, role
from dangxiao.accounts import services
from dangxiao.accounts.branches import tree_rows
from dangxiao.accounts.forms import (
    ApprovalForm,
    LoginForm,
    PasswordForm,
    ProfileForm,
    RegisterForm,
    new_user_from,
)
from dangxiao.accounts.models import BranchKind
from dangxiao.accounts.sessions import active_sessions, device_label
from dangxiao.errors import DomainError
from dangxiao.extensions import limiter
from dangxiao.forms_util import Form, attach_error, options
from dangxiao.security import is_safe_next
from dangxiao.transactions import atomic

bp = Blueprint("accounts", __name__, url_prefix="/accounts")
api = Blueprint("accounts_api", __name__, url_prefix="/api")

ACCESS = {
    "login": PUBLIC,
    "register": PUBLIC,
    "logout": LOGIN,
    "logout_everywhere": LOGIN,
    "profile": LOGIN,
    "password": LOGIN,
    "approvals": role("branch_secretary"),
    "approve": role("branch_secretary"),
}
API_ACCESS = {"me": LOGIN}


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


def _landing(target: str | None) -> str:
    """Where a login goes: the page the user was heading for, else the home page."""
    return target if is_safe_next(target) else url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    target = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(_landing(target))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                user = services.authenticate(form.username.data, form.password.data)
                services.log_in(
                    user,
                    remember=bool(form.remember.data),
                    ip=request.remote_addr,
                    user_agent=request.user_agent.string,
                )
                first = user.previous_login_at is None
        except services.LoginRefused as refused:
            flash(refused.message, "error")
            status = 401
        else:
            login_user(user, remember=bool(form.remember.data))
            flash(f"欢迎，{user.display_name}！" if first else f"欢迎回来，{user.display_name}！", "success")
            return redirect(_landing(target))
    elif request.method == "POST":
        status = 400
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    with atomic():
        services.log_out(current_user)
    logout_user()
    flash("您已安全退出。", "success")
    return redirect(url_for("main.index"))


@bp.route("/logout-everywhere", methods=["POST"])
def logout_everywhere():
    if not Form().validate_on_submit():
        raise DomainError("页面已过期，请刷新后重试。", "csrf_failed")
    with atomic():
        count = services.log_out_everywhere(current_user)
    logout_user()
    flash(f"已退出全部 {count} 个设备上的登录。", "success")
    return redirect(url_for("accounts.login"))


def _branch_choices() -> list[tuple[int, str]]:
    return [(b.id, b.full_name) for b, _ in tree_rows() if b.kind == BranchKind.branch]


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = RegisterForm()
    form.branch_id.choices = options([(0, "请选择…"), *_branch_choices()])
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                services.register(new_user_from(form, confirm=form.confirm.data or ""))
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash("注册申请已提交，请等待支部书记或管理员审核。审核通过后即可登录。", "success")
            return redirect(url_for("accounts.login"))
    elif request.method == "POST":
        status = 400
    return render_template("accounts/register.html", form=form), status


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    form = ProfileForm(obj=current_user)
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                services.update_profile(current_user, form.display_name.data, form.phone.data)
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash("个人信息已保存。", "success")
            return redirect(url_for("accounts.profile"))
    elif request.method == "POST":
        status = 400
    return render_template(
        "accounts/profile.html",
        form=form,
        sessions=active_sessions(current_user),
        device_label=device_label,
        logout_form=Form(),
    ), status


@bp.route("/password", methods=["GET", "POST"])
def password():
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                services.change_password(
                    current_user, form.current_password.data, form.new_password.data, form.confirm.data
                )
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash("密码已修改，其他设备上的登录已失效。", "success")
            return redirect(url_for("accounts.profile"))
    elif request.method == "POST":
        status = 400
    return render_template("accounts/password.html", form=form), status


def user_json(user) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "phone": user.phone,
        "branch": user.branch.full_name if user.branch else None,
        "roles": sorted(r.role.value for r in user.roles),
        "is_flowing": user.is_flowing,
        "flowing_region": user.flowing_region,
    }


@api.route("/me", methods=["GET", "POST"])
def me():
    """JSON profile; POST (CSRF header required) updates display name and phone."""
    if request.method == "POST":
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise DomainError("请求体必须是 JSON 对象。", "invalid_json")
        with atomic():
            services.update_profile(
                current_user,
                data.get("display_name", current_user.display_name),
                data.get("phone", current_user.phone),
            )
    return jsonify(user=user_json(current_user))


@bp.route("/approvals")
def approvals():
    return render_template("accounts/approvals.html", users=services.pending_for(current_user), form=ApprovalForm())


@bp.route("/approvals/<int:user_id>", methods=["POST"])
def approve(user_id: int):
    if not ApprovalForm().validate_on_submit():
        raise DomainError("页面已过期，请刷新后重试。", "csrf_failed")
    decision = request.form.get("decision", "")
    try:
        with atomic():
            user = services.decide_registration(current_user, services.get_user(user_id), decision)
    except DomainError as error:
        if error.code != "already_decided":
            raise
        flash(error.message, "info")
    else:
        verb = "通过" if decision == "approve" else "拒绝"
        flash(f"已{verb} {user.display_name} 的注册申请。", "success")
    return redirect(url_for("accounts.approvals"))
