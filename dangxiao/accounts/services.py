"""Account logic shared by the web views, the JSON API and the CLI.

Every function that changes something takes the acting user (``actor``; the CLI passes
``dangxiao.policy.SYSTEM``) and enforces its rules itself, so no entry point can walk
around them. Functions flush and never commit: the caller commits once
(``dangxiao.transactions.atomic``), and notifications go out after that commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from dangxiao.accounts import sessions
from dangxiao.accounts.branches import get_branch, subtree_ids_query
from dangxiao.accounts.models import Role, User, UserRole, UserStatus
from dangxiao.accounts.permissions import has_role, scope_roots
from dangxiao.accounts.validation import (
    check_password_strength,
    normalise_phone,
    normalise_username,
    username_key,
)
from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.notifications.service import notify, path_for
from dangxiao.policy import require
from dangxiao.queries import get_or_404
from dangxiao.text.clean import clean_line, is_reserved_name

# Verified against when the username is unknown so both paths cost one hash check.
_DUMMY_HASH = "scrypt:32768:8:1$0000000000000000$" + "0" * 128


class LoginRefused(DomainError):
    code = "login_refused"
    status = 401


INVALID_CREDENTIALS = "用户名或密码错误。"
STATUS_REFUSALS = {
    UserStatus.pending: ("account_pending", "您的账号正在等待支部书记或管理员审核，审核通过后即可登录。"),
    UserStatus.disabled: ("account_disabled", "您的账号已被停用，如有疑问请联系所在支部或管理员。"),
}
RESERVED_NAME = "姓名不能使用“管理员”“版主”“书记”等系统称谓，请填写真实姓名。"


@dataclass
class NewUser:
    username: str
    password: str
    display_name: str = ""
    branch_id: int | None = None
    phone: str | None = None
    is_flowing: bool = False
    flowing_region: str | None = None
    confirm: str | None = None  # self-registration: the password typed twice


def _min_password() -> int:
    return int(current_app.config.get("PASSWORD_MIN_LENGTH", 8))


def find_user(username: str) -> User | None:
    try:
        key = username_key(normalise_username(username))
    except DomainError:
        return None
    return db.session.scalar(select(User).where(User.username_key == key))


def get_user(user_id: int) -> User:
    return get_or_404(User, user_id, "用户不存在。")


def _display_name(actor: Any, raw: object, fallback: str = "") -> str:
    """Cleaned; staff-like titles (管理员, 版主, …) only when an admin gives them."""
    name = clean_line(raw if raw else fallback, "display_name", "姓名", 50)
    if is_reserved_name(name) and not has_role(actor, Role.admin):
        raise DomainError(RESERVED_NAME, "display_name_reserved", "display_name")
    return name


def _region(is_flowing: bool, raw: object) -> str | None:
    return clean_line(raw, "flowing_region", "流入地", 100) if is_flowing else None


def _build_user(actor: Any, data: NewUser, status: UserStatus) -> User:
    username = normalise_username(data.username)
    key = username_key(username)
    if db.session.scalar(select(User.id).where(User.username_key == key)) is not None:
        raise DomainError("该用户名已被使用。", "username_taken", "username")
    check_password_strength(data.password, _min_password())
    if data.confirm is not None and data.confirm != data.password:
        raise DomainError("两次输入的密码不一致。", "password_mismatch", "confirm")
    display = _display_name(actor, data.display_name, username)
    if data.branch_id is not None:
        get_branch(data.branch_id)
    user = User(
        username=username,
        username_key=key,
        display_name=display,
        phone=normalise_phone(data.phone),
        branch_id=data.branch_id,
        status=status,
        is_flowing=bool(data.is_flowing),
        flowing_region=_region(bool(data.is_flowing), data.flowing_region),
    )
    user.set_password(data.password)
    return user


def _save_new(user: User) -> User:
    """Flush inside a savepoint: two registrations racing for one name are decided by the unique index."""
    try:
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
        raise DomainError("该用户名已被使用。", "username_taken", "username") from None
    return user


def create_user(actor: Any, data: NewUser, roles: list[tuple[Role | str, int | None]] | None = None) -> User:
    """An admin-created account: active at once, with the given (role, scope) pairs."""
    require(actor, "user.create")
    user = _build_user(actor, data, UserStatus.active)
    for role, scope in roles if roles is not None else [(Role.member, None)]:
        user.roles.append(_new_role(role, scope))
    return _save_new(user)


def register(data: NewUser) -> User:
    """Self-registration (no actor: the applicant): the account waits for approval."""
    if data.branch_id is None:
        raise DomainError("请选择所在党支部。", "branch_required", "branch_id")
    user = _build_user(None, data, UserStatus.pending)
    user.roles.append(UserRole(role=Role.member))
    return _save_new(user)


def authenticate(username: str, password: str) -> User:
    """The user for these credentials, or LoginRefused with the reason to show."""
    user = find_user(username) if username else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        raise LoginRefused(INVALID_CREDENTIALS, "invalid_credentials")
    if not user.check_password(password or ""):
        raise LoginRefused(INVALID_CREDENTIALS, "invalid_credentials")
    if user.status != UserStatus.active:
        code, message = STATUS_REFUSALS[user.status]
        raise LoginRefused(message, code)
    return user


def log_in(user: User, *, remember: bool, ip: str | None, user_agent: str | None) -> None:
    """Record the login (the previous one becomes "上次登录") and open a server-side session."""
    user.previous_login_at, user.last_login_at = user.last_login_at, utcnow()
    sessions.start(user, remember=remember, ip=ip, user_agent=user_agent)


def log_out(actor: User) -> None:
    sessions.end(actor)


def log_out_everywhere(actor: User) -> int:
    """End every session of the actor, this one included."""
    return sessions.end_all(actor)


def change_password(actor: User, current: str, new: str, confirm: str) -> None:
    """The user's own change: other sessions end, this one stays."""
    if not isinstance(current, str) or not actor.check_password(current):
        raise DomainError("当前密码不正确。", "password_wrong", "current_password")
    check_password_strength(new, _min_password(), "new_password")
    if new != confirm:
        raise DomainError("两次输入的新密码不一致。", "password_mismatch", "confirm")
    actor.set_password(new)
    sessions.end_all(actor, keep_current=True)
    db.session.flush()


def set_password(actor: Any, user: User, new: str) -> None:
    """Admin/CLI reset: every session of the user ends."""
    require(actor, "user.manage", user)
    check_password_strength(new, _min_password())
    user.set_password(new)
    sessions.end_all(user)
    db.session.flush()


def update_profile(actor: User, display_name: object, phone: object) -> User:
    """The actor's own name and phone."""
    display = _display_name(actor, display_name)
    phone_value = normalise_phone(phone)
    actor.display_name, actor.phone = display, phone_value
    db.session.flush()
    return actor


def update_user(
    actor: Any,
    user: User,
    display_name: str,
    branch_id: int | None,
    phone: str | None,
    is_flowing: bool,
    flowing_region: str | None,
) -> User:
    require(actor, "user.manage", user)
    display = _display_name(actor, display_name)
    phone_value = normalise_phone(phone)
    if branch_id is not None:
        get_branch(branch_id)
    region = _region(is_flowing, flowing_region)
    user.display_name, user.phone, user.branch_id = display, phone_value, branch_id
    user.is_flowing, user.flowing_region = is_flowing, region
    db.session.flush()
    return user


def _parse_status(status: UserStatus | str) -> UserStatus:
    try:
        return UserStatus(status)
    except ValueError:
        raise DomainError("账号状态不正确。", "status_invalid") from None


def set_status(actor: Any, user: User, status: UserStatus | str) -> User:
    """Enable or disable an account; disabling ends its sessions. Nobody locks themselves out."""
    require(actor, "user.manage", user)
    status = _parse_status(status)
    if getattr(actor, "id", None) == user.id and status != UserStatus.active:
        raise Forbidden("不能更改自己的账号状态，以免把自己锁在系统外。", "self_lockout")
    if status != UserStatus.active:
        sessions.end_all(user)
    user.status = status
    db.session.flush()
    return user


def decide_registration(actor: Any, user: User, decision: str) -> User:
    """Approve or reject a pending registration and tell the applicant (after commit)."""
    require(actor, "user.approve", user, "该注册申请不在您管辖的组织范围内。")
    if decision not in ("approve", "reject"):
        raise DomainError("请选择通过或拒绝。", "decision_invalid")
    if user.status != UserStatus.pending:
        raise DomainError("该申请已处理。", "already_decided")
    if decision == "approve":
        user.status = UserStatus.active
        notify(
            user.id, "registration.approved", "您的注册申请已通过审核，欢迎加入网上党校！", path_for("accounts.profile")
        )
    else:
        user.status = UserStatus.disabled
        notify(user.id, "registration.rejected", "您的注册申请未通过审核，如有疑问请联系所在支部。")
    db.session.flush()
    return user


def _new_role(role: Role | str, scope_branch_id: int | None) -> UserRole:
    try:
        role = Role(role)
    except ValueError:
        raise DomainError("角色不存在。", "role_invalid", "role") from None
    if scope_branch_id is not None:
        get_branch(scope_branch_id)
    return UserRole(role=role, scope_branch_id=scope_branch_id)


def add_role(actor: Any, user: User, role: Role | str, scope_branch_id: int | None = None) -> UserRole:
    require(actor, "user.manage", user)
    new = _new_role(role, scope_branch_id)
    if any(r.role == new.role and r.scope_branch_id == scope_branch_id for r in user.roles):
        raise DomainError("该用户已拥有此角色。", "role_exists", "role")
    user.roles.append(new)
    db.session.flush()
    return new


def remove_role(actor: Any, user: User, role_id: int) -> UserRole:
    require(actor, "user.manage", user)
    held = next((r for r in user.roles if r.id == role_id), None)
    if held is None:
        raise DomainError("角色不存在。", "role_not_found")
    if getattr(actor, "id", None) == user.id and held.role == Role.admin:
        raise Forbidden("不能移除自己的管理员角色。", "self_lockout")
    user.roles.remove(held)
    db.session.flush()
    return held


def pending_for(actor: Any) -> list[User]:
    """Pending registrations the actor may approve (their secretary scope, or all for admins)."""
    require(actor, "user.review")
    stmt = select(User).where(User.status == UserStatus.pending).order_by(User.created_at)
    roots = scope_roots(actor, Role.branch_secretary)
    if roots is not None:
        if not roots:
            return []
        clauses = [User.branch_id.in_(subtree_ids_query(r)) for r in roots]
        stmt = stmt.where(or_(*clauses))
    return list(db.session.scalars(stmt))


def search_users(query: str = "", status: str = "", branch_id: int | None = None) -> list[User]:
    stmt = select(User).order_by(User.id)
    if query:
        like = f"%{query.strip()}%"
        stmt = stmt.where(or_(User.username.ilike(like), User.display_name.ilike(like)))
    if status in {s.value for s in UserStatus}:
        stmt = stmt.where(User.status == UserStatus(status))
    if branch_id:
        stmt = stmt.where(User.branch_id.in_(subtree_ids_query(branch_id)))
    return list(db.session.scalars(stmt.limit(500)))
