"""Expiring grants to an asset's files, carried in the URL path before the files.

``/media/<grant>/<asset_id>/<version>/master.m3u8``: the segment URLs inside HLS playlists
are relative, so they inherit the grant without any playlist being rewritten (the same
idea as nginx's secure_link). Who may watch is decided elsewhere (the school for members,
the set-top box module for stations, the media library for staff previews); media only
verifies what they signed.

A grant is ``<subject>.<expires>.<signature>``: the subject ("u12" a member, "d3" a
device, "s1" a staff preview) and the expiry (Unix seconds, base 36) in clear, and an
HMAC-SHA256 (first 16 bytes, base64url) over asset id, subject and expiry with a key
derived from SECRET_KEY. Changing any part, or using it for another asset, breaks the
signature; a copied URL stops working when the grant expires (MEDIA_GRANT_TTL, 6 h).
No database row is read to verify one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from flask import current_app

DEFAULT_TTL = 6 * 3600
#: Subjects are a kind letter and an id: u = member, d = set-top box, s = staff preview.
SUBJECT = re.compile(r"^[uds][0-9]{1,10}$")
TOKEN = re.compile(r"^([uds][0-9]{1,10})\.([0-9a-z]{1,8})\.([A-Za-z0-9_-]{22})$")
#: Why a grant was refused (the error code of the 403).
INVALID = "grant_invalid"
EXPIRED = "grant_expired"


@dataclass(frozen=True)
class Grant:
    subject: str
    expires: int

    def remaining(self, now: float | None = None) -> int:
        """Whole seconds left (0 once expired): the most a cache may keep a granted response."""
        return max(0, int(self.expires - (now if now is not None else time.time())))


def member(user_id: int) -> str:
    """The subject of a member watching a lesson."""
    return f"u{int(user_id)}"


def device(device_id: int) -> str:
    """The subject of a set-top box."""
    return f"d{int(device_id)}"


def staff(user_id: int) -> str:
    """The subject of a staff preview in the media library."""
    return f"s{int(user_id)}"


def _key() -> bytes:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"dangxiao media grant v1", hashlib.sha256).digest()


def _sign(asset_id: int, subject: str, expires: int) -> str:
    message = f"{int(asset_id)}:{subject}:{expires}".encode()
    digest = hmac.new(_key(), message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def ttl() -> int:
    return int(current_app.config.get("MEDIA_GRANT_TTL") or DEFAULT_TTL)


def issue(asset_id: int, subject: str, seconds: int | None = None, now: float | None = None) -> str:
    """A grant for `subject` to read asset `asset_id`'s files for `seconds` (default MEDIA_GRANT_TTL)."""
    if not SUBJECT.match(subject):
        raise ValueError(f"bad grant subject {subject!r}")
    expires = int(now if now is not None else time.time()) + (seconds if seconds is not None else ttl())
    return f"{subject}.{_base36(expires)}.{_sign(asset_id, subject, expires)}"


def check(token: str, asset_id: int, now: float | None = None) -> Grant | str:
    """The grant, or why it is refused: EXPIRED (genuine but past its time) or INVALID
    (malformed, forged, tampered with, or signed for another asset)."""
    match = TOKEN.match(token or "")
    if match is None:
        return INVALID
    subject, expires_text, signature = match.groups()
    expires = int(expires_text, 36)
    if not hmac.compare_digest(signature, _sign(asset_id, subject, expires)):
        return INVALID
    if expires <= (now if now is not None else time.time()):
        return EXPIRED
    return Grant(subject, expires)


def verify(token: str, asset_id: int, now: float | None = None) -> Grant | None:
    """The grant if `token` was issued for `asset_id` and has not expired, else None."""
    result = check(token, asset_id, now)
    return result if isinstance(result, Grant) else None
