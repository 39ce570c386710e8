"""Account and organisation models."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from dangxiao.db_types import str_enum, utcnow
from dangxiao.extensions import db


class BranchKind(enum.StrEnum):
    committee = "committee"  # 党委
    general_branch = "general_branch"  # 党总支
    branch = "branch"  # 党支部


BRANCH_KIND_LABELS = {
    BranchKind.committee: "党委",
    BranchKind.general_branch: "党总支",
    BranchKind.branch: "党支部",
}


class UserStatus(enum.StrEnum):
    pending = "pending"
    active = "active"
    disabled = "disabled"


USER_STATUS_LABELS = {
    UserStatus.pending: "待审核",
    UserStatus.active: "正常",
    UserStatus.disabled: "已停用",
}


class Role(enum.StrEnum):
    member = "member"
    moderator = "moderator"
    branch_secretary = "branch_secretary"
    admin = "admin"


ROLE_LABELS = {
    Role.member: "党员",
    Role.moderator: "版主",
    Role.branch_secretary: "支部书记",
    Role.admin: "管理员",
}


class Branch(db.Model):
    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[BranchKind] = mapped_column(
        str_enum(BranchKind)
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("branches.id", ondelete="RESTRICT"), index=True
    )
    region_code: Mapped[str] = mapped_column(String(12), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    parent: Mapped[Branch | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Branch]] = relationship(back_populates="parent", order_by="Branch.name")

    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_branches_parent_name"),)

    @property
    def kind_label(self) -> str:
        return BRANCH_KIND_LABELS[self.kind]

    def path(self) -> list[Branch]:
        """Ancestors from the root down to this branch, for breadcrumbs and labels."""
        chain: list[Branch] = []
        node: Branch | None = self
        while node is not None and len(chain) < 64:
            chain.append(node)
            node = node.parent
        return list(reversed(chain))

    @property
    def full_name(self) -> str:
        return " / ".join(b.name for b in self.path())

    def __repr__(self) -> str:
        return f"<Branch {self.id} {self.name}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    # Case-folded NFKC form; uniqueness is decided on this so "Zhang" and "zhang" collide.
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    branch_id: Mapped[int | None] = mapped_column(
        ForeignKey("branches.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[UserStatus] = mapped_column(
        str_enum(UserStatus),
        default=UserStatus.pending,
        index=True,
    )
    is_flowing: Mapped[bool] = mapped_column(default=False)
    flowing_region: Mapped[str | None] = mapped_column(String(100))
    # Rotated on password change or disabling so old sessions and remember-me cookies die.
    auth_token: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The login before the current one: what "上次登录" shows (last_login_at is this login).
    previous_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    branch: Mapped[Branch | None] = relationship()
    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.auth_token = secrets.token_hex(16)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        return f"{self.id}:{self.auth_token}"

    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.active

    @property
    def status_label(self) -> str:
        return USER_STATUS_LABELS[self.status]

    @property
    def role_names(self) -> set[Role]:
        return {r.role for r in self.roles}

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


class UserRole(db.Model):
    """A role held by a user, optionally scoped to a branch subtree (null scope = everywhere)."""

    __tablename__ = "user_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(
        str_enum(Role)
    )
    scope_branch_id: Mapped[int | None] = mapped_column(
        ForeignKey("branches.id", ondelete="CASCADE"), index=True
    )

    user: Mapped[User] = relationship(back_populates="roles")
    scope_branch: Mapped[Branch | None] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("user_id", "role", "scope_branch_id", name="uq_user_roles_user_role_scope"),
    )

    @property
    def label(self) -> str:
        text = ROLE_LABELS[self.role]
        if self.scope_branch is not None:
            text += f"（{self.scope_branch.name}）"
        return text


class UserSession(db.Model):
    """One login (a browser or a remember-me cookie): logout revokes it server-side.

    The cookie carries the session's random token; only its SHA-256 is stored, so a
    leaked database does not hand out live sessions.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    remember: Mapped[bool] = mapped_column(default=False)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None
