"""Account and organisation models."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from dangxiao.db_types import LabelledEnum, str_enum, utcnow
from dangxiao.extensions import db


class BranchKind(LabelledEnum):
    """Levels of the organisation tree, top down; a branch may only sit under a higher level."""

    committee = "committee", "党委"
    general_branch = "general_branch", "党总支"
    branch = "branch", "党支部"

    @property
    def rank(self) -> int:
        return list(BranchKind).index(self)


class UserStatus(LabelledEnum):
    pending = "pending", "待审核"
    active = "active", "正常"
    disabled = "disabled", "已停用"


class Role(LabelledEnum):
    member = "member", "党员"
    moderator = "moderator", "版主"
    branch_secretary = "branch_secretary", "支部书记"
    admin = "admin", "管理员"


class Branch(db.Model):
    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[BranchKind] = mapped_column(str_enum(BranchKind))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    parent: Mapped[Branch | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Branch]] = relationship(back_populates="parent", order_by="Branch.name")

    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_branches_parent_name"),)

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
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="RESTRICT"), index=True)
    status: Mapped[UserStatus] = mapped_column(
        str_enum(UserStatus),
        default=UserStatus.pending,
        index=True,
    )
    is_flowing: Mapped[bool] = mapped_column(default=False)
    flowing_region: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The login before the current one: what "上次登录" shows (last_login_at is this login).
    previous_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    branch: Mapped[Branch | None] = relationship()
    roles: Mapped[list[UserRole]] = relationship(back_populates="user", cascade="all, delete-orphan", lazy="selectin")

    # Set by dangxiao.accounts.sessions when this request runs in a server-side session.
    session_token = None  # type: str | None
    session_id = None  # type: int | None

    def set_password(self, password: str) -> None:
        # scrypt by default (~0.15 s on purpose); the test suite sets a cheap method, since it
        # creates and logs in thousands of users and does not test the hash's strength.
        method = current_app.config.get("PASSWORD_HASH_METHOD") or "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """Names the server-side session, so logout and revocation end the cookie too."""
        return f"{self.id}:{self.session_token or ''}"

    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.active

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
    role: Mapped[Role] = mapped_column(str_enum(Role))
    scope_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship(back_populates="roles")
    scope_branch: Mapped[Branch | None] = relationship(lazy="joined")

    __table_args__ = (UniqueConstraint("user_id", "role", "scope_branch_id", name="uq_user_roles_user_role_scope"),)

    @property
    def label(self) -> str:
        text = self.role.label
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
