"""Server-side login sessions: logging out ends the session, not just the cookie.

Each login makes a :class:`UserSession` row holding the SHA-256 of a random token.
Flask-Login's user id (in the session cookie and in the remember-me cookie) is
``"<user id>:<token>"``, so a cookie replayed after logout, after "log out
everywhere", after a password change or after the account was disabled finds a
revoked row and is refused on the very next request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from dangxiao.accounts.models import User, UserSession
from dangxiao.db_types import aware, utcnow
from dangxiao.extensions import db

TOUCH_EVERY = timedelta(minutes=5)  # last_seen_at is written at most this often per session


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User, *, remember: bool, ip: str | None, user_agent: str | None) -> UserSession:
    """A new session for `user` (flushed); `user.get_id()` now names it."""
    token = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user.id,
        token_hash=_hash(token),
        remember=remember,
        ip=(ip or "")[:45] or None,
        user_agent=(user_agent or "")[:200] or None,
    )
    db.session.add(row)
    db.session.flush()
    user.session_token, user.session_id = token, row.id
    return row


def load(ident: str) -> User | None:
    """The user of a live session named by a Flask-Login id, or None (logged out, revoked, disabled)."""
    user_part, _, token = ident.partition(":")
    if not user_part.isascii() or not user_part.isdigit() or not token or len(token) > 100:
        return None
    # One round trip for the session, its user and the user's roles: this runs on every request.
    stmt = (
        select(UserSession)
        .where(UserSession.token_hash == _hash(token))
        .options(joinedload(UserSession.user).joinedload(User.roles))
    )
    row = db.session.scalars(stmt).unique().first()
    if row is None or row.revoked_at is not None or str(row.user_id) != user_part:
        return None
    user = row.user
    if not user.is_active:
        return None
    user.session_token, user.session_id = token, row.id
    now = utcnow()
    if now - aware(row.last_seen_at) > TOUCH_EVERY:
        # Its own short transaction: a GET must not hold the request's session open for this.
        with db.engine.begin() as conn:
            conn.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
    return user


def end(user: User) -> None:
    """Revoke the session this request runs in."""
    session_id = getattr(user, "session_id", None)
    if session_id is not None:
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def end_all(user: User, *, keep_current: bool = False) -> int:
    """Revoke every live session of `user` (optionally not this one); returns how many."""
    stmt = update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    current = getattr(user, "session_id", None)
    if keep_current and current is not None:
        stmt = stmt.where(UserSession.id != current)
    result = db.session.execute(stmt.values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount or 0


def active_sessions(user: User) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.last_seen_at.desc())
        )
    )


# (marker in the User-Agent, label), most specific first: in-app browsers before the engines they wrap.
_BROWSERS = (
    ("MicroMessenger", "微信"),
    ("QQBrowser", "QQ 浏览器"),
    ("UCBrowser", "UC 浏览器"),
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "安卓手机"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows 电脑"),
    ("Mac OS X", "Mac 电脑"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str | None) -> str:
    """A short Chinese description of a login's device ("微信 · 安卓手机"), never the raw string."""
    agent = user_agent or ""
    browser = next((label for marker, label in _BROWSERS if marker in agent), "")
    system = next((label for marker, label in _SYSTEMS if marker in agent), "")
    return " · ".join(part for part in (browser, system) if part) or "未知设备"
