"""Account logic shared by the web views, the JSON API and the CLI."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from dangxiao.accounts.branches import get_branch, subtree_ids_query
from dangxiao.accounts.models import Role, User, UserRole, UserStatus
from dangxiao.accounts.permissions import scope_roots
from dangxiao.accounts.validation import (
    check_password_strength,
    clean_text,
    normalise_phone,
    normalise_username,
    username_key,
)
from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db

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


@dataclass
class NewUser:
    username: str
    password: str
    display_name: str = ""
    branch_id: int | None = None
    phone: str | None = None
    is_flowing: bool = False
    flowing_region: str | None = None


def _min_password() -> int:
    return int(current_app.config.get("PASSWORD_MIN_LENGTH", 8))


def find_user(username: str) -> User | None:
    try:
        key = username_key(normalise_username(username))
    except DomainError:
        return None
    return db.session.scalar(select(User).where(User.username_key == key))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在。")
    return user


def _build_user(data: NewUser, status: UserStatus) -> User:
    username = normalise_username(data.username)
    key = username_key(username)
    if db.session.scalar(select(User.id).where(User.username_key == key)) is not None:
        raise DomainError("该用户名已被使用。", "username_taken", "username")
    check_password_strength(data.password, _min_password())
    display = clean_text(data.display_name or username, "display_name", "姓名", 50)
    if data.branch_id is not None:
        get_branch(data.branch_id)
    region = None
    if data.is_flowing:
        region = clean_text(data.flowing_region, "flowing_region", "流入地", 100)
    user = User(
        username=username,
        username_key=key,
        display_name=display,
        phone=normalise_phone(data.phone),
        branch_id=data.branch_id,
        status=status,
        is_flowing=data.is_flowing,
        flowing_region=region,
    )
    user.set_password(data.password)
    return user


def _save_new(user: User) -> User:
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Two registrations raced for one name: the unique index decided.
        db.session.rollback()
        raise DomainError("该用户名已被使用。", "username_taken", "username") from None
    return user


def create_user(data: NewUser, roles: list[tuple[Role | str, int | None]] | None = None) -> User:
    """An admin-created account: active at once, with the given (role, scope) pairs."""
    user = _build_user(data, UserStatus.active)
    for role, scope in roles if roles is not None else [(Role.member, None)]:
        user.roles.append(_new_role(role, scope))
    return _save_new(user)


def register(data: NewUser) -> User:
    """Self-registration: the account waits for a secretary or admin to approve it."""
    if data.branch_id is None:
        raise DomainError("请选择所在党支部。", "branch_required", "branch_id")
    user = _build_user(data, UserStatus.pending)
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
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str, confirm: str) -> None:
    if not user.check_password(current or ""):
        raise DomainError("当前密码不正确。", "password_wrong", "current_password")
    check_password_strength(new, _min_password())
    if new != confirm:
        raise DomainError("两次输入的新密码不一致。", "password_mismatch", "confirm")
    user.set_password(new)
    db.session.commit()


def set_password(user: User, new: str) -> None:
    """Admin/CLI reset; rotates the auth token so existing sessions end."""
    check_password_strength(new, _min_password())
    user.set_password(new)
    db.session.commit()


def update_profile(user: User, display_name: str | None, phone: str | None) -> User:
    display = clean_text(display_name, "display_name", "姓名", 50)
    phone_value = normalise_phone(phone)
    user.display_name, user.phone = display, phone_value
    db.session.commit()
    return user


def update_user(
    user: User,
    display_name: str,
    branch_id: int | None,
    phone: str | None,
    is_flowing: bool,
    flowing_region: str | None,
) -> User:
    display = clean_text(display_name, "display_name", "姓名", 50)
    phone_value = normalise_phone(phone)
    if branch_id is not None:
        get_branch(branch_id)
    region = clean_text(flowing_region, "flowing_region", "流入地", 100) if is_flowing else None
    user.display_name, user.phone, user.branch_id = display, phone_value, branch_id
    user.is_flowing, user.flowing_region = is_flowing, region
    db.session.commit()
    return user


def set_status(user: User, status: UserStatus | str) -> User:
    try:
        status = UserStatus(status)
    except ValueError:
        raise DomainError("账号状态不正确。", "status_invalid") from None
    if status != UserStatus.active:
        user.auth_token = secrets.token_hex(16)  # end the account's live sessions
    user.status = status
    db.session.commit()
    return user


def _new_role(role: Role | str, scope_branch_id: int | None) -> UserRole:
    try:
        role = Role(role)
    except ValueError:
        raise DomainError("角色不存在。", "role_invalid", "role") from None
    if scope_branch_id is not None:
        get_branch(scope_branch_id)
    return UserRole(role=role, scope_branch_id=scope_branch_id)


def add_role(user: User, role: Role | str, scope_branch_id: int | None = None) -> UserRole:
    new = _new_role(role, scope_branch_id)
    if any(r.role == new.role and r.scope_branch_id == scope_branch_id for r in user.roles):
        raise DomainError("该用户已拥有此角色。", "role_exists", "role")
    user.roles.append(new)
    db.session.commit()
    return new


def remove_role(user: User, role_id: int) -> None:
    held = next((r for r in user.roles if r.id == role_id), None)
    if held is None:
        raise NotFound("角色不存在。")
    user.roles.remove(held)
    db.session.commit()


def pending_for(actor: User) -> list[User]:
    """Pending registrations the actor may approve (their secretary scope, or all for admins)."""
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
