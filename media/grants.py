"""Expiring grants to an asset's files, carried in the URL path before the files.

``/media/<grant>/<asset_id>/<version>/master.m3u8``: the segment URLs inside HLS playlists
are relative, so they inherit the grant without any playlist being rewritten (the same
idea as nginx's secure_link). Who may watch is decided elsewhere (the school for members,
the set-top box module for stations); media only verifies what they signed.

A grant is ``<subject>.<expires>.<signature>``: the subject ("u12" a member, "d3" a
device) and the expiry (Unix seconds, base 36) in clear, and an HMAC-SHA256 over asset id,
subject and expiry with a key derived from SECRET_KEY. Changing any part, or using it for
another asset, breaks the signature; a copied URL stops working when the grant expires.
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


@dataclass(frozen=True)
class Grant:
    subject: str
    expires: int


def _key() -> bytes:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"dangxiao media grant v1", hashlib.sha256).digest()


def _sign(asset_id: int, subject: str, expires: int) -> str:
    message = f"{asset_id}:{subject}:{expires}".encode()
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


def verify(token: str, asset_id: int, now: float | None = None) -> Grant | None:
    """The grant if `token` was issued for `asset_id` and has not expired, else None."""
    match = TOKEN.match(token or "")
    if match is None:
        return None
    subject, expires_text, signature = match.groups()
    expires = int(expires_text, 36)
    if not hmac.compare_digest(signature, _sign(asset_id, subject, expires)):
        return None
    if expires <= (now if now is not None else time.time()):
        return None
    return Grant(subject, expires)
