"""Station keys: issue, rotate, revoke, and the device loader every box request goes through.

A key is 32 random bytes (``secrets.token_urlsafe(32)``, 43 characters); only its SHA-256 is
stored, with the first characters as a hint to tell keys apart. The loader finds a device by
one indexed equality on the hash. That is not a timing leak worth a constant-time compare:
the lookup compares hashes, not keys, so how long it takes says nothing about how close a
guessed key is to a real one (an attacker would need a preimage of the stored hash), and
32 random bytes cannot be guessed anyway.

A key arrives in one of three ways (the first present wins): the path prefix
``/tv/k/<key>/`` (see :mod:`dangxiao.tv.prefix`), the ``X-Device-Key`` header, or ``?key=``.
Anything that is not shaped like a key (too short or long, URL-special or non-ASCII
characters) is refused before the database is asked.

Last-seen time and address are written at most once per ``TV_LAST_SEEN_INTERVAL`` seconds per
device: an in-process memo skips even the statement, and the statement itself is a
conditional UPDATE in its own short transaction on its own connection, so a feed's GET never
holds a write lock and two workers do not both write.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask import current_app, request, url_for
from sqlalchemy import bindparam, or_, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import joinedload

from dangxiao.accounts.models import Branch
from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.queries import MAX_ID
from dangxiao.text.clean import clean_line
from dangxiao.tv import changes, prefix
from dangxiao.tv.models import Device

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
KEY_MAX = 100
KEY_HEADER = "X-Device-Key"
KEY_ARG = "key"
HINT_LEN = 6
NAME_MIN, NAME_MAX = 2, 60
VILLAGE_MAX = CONTACT_MAX = 100
UPDATABLE = frozenset({"name", "village", "contact", "branch_id"})

_seen_lock = threading.Lock()
_seen: dict[str, float] = {}  # key hash -> monotonic time of the last write attempt in this process
_SEEN_MAX = 10_000


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def valid_key(key: object) -> bool:
    return isinstance(key, str) and len(key) <= KEY_MAX and KEY_RE.fullmatch(key) is not None


def _new_key() -> str:
    return secrets.token_urlsafe(32)


def _set_key(device: Device, key: str) -> None:
    device.key_hash = hash_key(key)
    device.key_hint = key[:HINT_LEN]
    device.key_issued_at = utcnow()


# --- services (admin pages and the CLI) -------------------------------------------------------


def _clean_name(raw: object) -> str:
    name = clean_line(raw, "name", "站点名称", NAME_MAX)
    if len(name) < NAME_MIN:
        raise DomainError(f"站点名称至少 {NAME_MIN} 个字符。", "name_invalid", "name")
    return name


def _check_name_free(name: str, device_id: int | None = None) -> None:
    stmt = select(Device.id).where(Device.name == name)
    if device_id is not None:
        stmt = stmt.where(Device.id != device_id)
    if db.session.scalar(stmt) is not None:
        raise DomainError(f"已有名为“{name}”的接收站点。", "name_taken", "name")


def _branch(branch_id: object) -> Branch:
    branch = None
    if isinstance(branch_id, int) and not isinstance(branch_id, bool) and 0 < branch_id <= MAX_ID:
        branch = db.session.get(Branch, branch_id)
    if branch is None:
        raise DomainError("请选择站点所属的组织（所选组织不存在）。", "branch_not_found", "branch_id")
    return branch


def _flush_named(device: Device) -> None:
    """Flush; a concurrent registration of the same name loses with name_taken, not a 500."""
    try:
        with db.session.begin_nested():
            db.session.add(device)
            db.session.flush()
    except IntegrityError:
        raise DomainError(f"已有名为“{device.name}”的接收站点。", "name_taken", "name") from None


def get_device(device_id: int) -> Device:
    if isinstance(device_id, int) and not isinstance(device_id, bool) and 0 < device_id <= MAX_ID:
        device = db.session.get(Device, device_id)
        if device is not None:
            return device
    raise NotFound("接收站点不存在。", "device_not_found")


def get_device_by_name(name: str) -> Device | None:
    return db.session.scalar(select(Device).where(Device.name == name))


def list_devices() -> list[Device]:
    return list(db.session.scalars(select(Device).options(joinedload(Device.branch)).order_by(Device.name)))


def create_device(
    actor: Any, name: str, branch_id: int, village: str = "", contact: str = "", *, key: str | None = None
) -> tuple[Device, str]:
    """Register a station; returns it and its key, which is shown this once and never stored.

    `key` fixes the key instead of drawing one (the demo's documented key); it must be key-shaped."""
    require(actor, "tv.manage_devices")
    if key is not None and not valid_key(key):
        raise DomainError("密钥只能由 20–100 个字母、数字、“-”或“_”组成。", "key_invalid", "key")
    name = _clean_name(name)
    village = clean_line(village, "village", "所在村（社区）", VILLAGE_MAX, required=False)
    contact = clean_line(contact, "contact", "联系人", CONTACT_MAX, required=False)
    branch = _branch(branch_id)
    _check_name_free(name)
    key = key or _new_key()
    device = Device(
        name=name,
        village=village,
        contact=contact,
        branch_id=branch.id,
        created_by_id=getattr(actor, "id", None),
    )
    _set_key(device, key)
    _flush_named(device)
    return device, key


def rotate_key(actor: Any, device_id: int) -> tuple[Device, str]:
    """Issue a new key; the old one stops working at once. A revoked station stays revoked
    (after a leak: rotate, then restore, and the leaked key never works again)."""
    require(actor, "tv.manage_devices")
    device = get_device(device_id)
    key = _new_key()
    _set_key(device, key)
    db.session.flush()
    return device, key


def revoke(actor: Any, device_id: int) -> Device:
    require(actor, "tv.manage_devices")
    device = get_device(device_id)
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        db.session.flush()
    return device


def restore(actor: Any, device_id: int) -> Device:
    """Undo a revocation; the station's current key works again."""
    require(actor, "tv.manage_devices")
    device = get_device(device_id)
    if device.revoked_at is not None:
        device.revoked_at = None
        db.session.flush()
    return device


def update_device(actor: Any, device_id: int, **fields: Any) -> Device:
    """Change name, village, contact or branch (fields not given are kept)."""
    require(actor, "tv.manage_devices")
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise TypeError(f"update_device: unknown fields {sorted(unknown)}")
    device = get_device(device_id)
    if "name" in fields:
        name = _clean_name(fields["name"])
        _check_name_free(name, device.id)
        device.name = name
    if "village" in fields:
        device.village = clean_line(fields["village"], "village", "所在村（社区）", VILLAGE_MAX, required=False)
    if "contact" in fields:
        device.contact = clean_line(fields["contact"], "contact", "联系人", CONTACT_MAX, required=False)
    if "branch_id" in fields:
        device.branch_id = _branch(fields["branch_id"]).id
    _flush_named(device)
    return device


# --- the loader (every device request) --------------------------------------------------------


def request_key() -> str | None:
    """The key this request carries: path prefix, else header, else ``?key=`` (empty counts as absent)."""
    key = prefix.prefixed_key()
    if key is not None:
        return key
    return request.headers.get(KEY_HEADER) or request.args.get(KEY_ARG) or None


@dataclass(frozen=True)
class Station:
    """What a box's request needs of its device. A plain value, so the per-process cache can
    hand the same one to many threads (an ORM object cannot be shared between sessions)."""

    id: int
    name: str
    village: str
    branch_id: int
    last_seen_at: datetime | None


#: Built once (a bound parameter, columns only): the one query of an uncached lookup.
_LOOKUP = select(
    Device.id, Device.name, Device.village, Device.branch_id, Device.revoked_at, Device.last_seen_at
).where(Device.key_hash == bindparam("digest"))
_FOUND = "tv.stations"  # app.extensions: key hash -> (catalogue version, Station | None)
_FOUND_MAX = 10_000


def load_device() -> Station | None:
    """The active station whose key this request carries, or None (registered as the access loader).

    Answers are kept per process for the catalogue version they were read at: revoking,
    restoring or rotating a key moves that version (dangxiao.tv.changes), so a cached answer
    is never older than the version this process reads (at most TV_VERSION_TTL behind other
    processes' commits). A box's feed request then asks the database nothing at all.
    """
    key = request_key()
    if not valid_key(key):
        return None
    digest = hash_key(key)
    version = changes.current_version()[0]
    found: dict[str, tuple[int, Station | None]] = current_app.extensions.setdefault(_FOUND, {})
    cached = found.get(digest)
    if cached is not None and cached[0] == version:
        station = cached[1]
    else:
        row = db.session.execute(_LOOKUP, {"digest": digest}).first()
        station = None
        if row is not None and row.revoked_at is None:
            station = Station(row.id, row.name, row.village, row.branch_id, aware(row.last_seen_at))
        if len(found) >= _FOUND_MAX:
            found.clear()
        found[digest] = (version, station)
    if station is not None:
        _touch(station, digest)
    return station


def _touch(device: Station, digest: str) -> None:
    """Record last-seen time and address, at most once per interval per device (see the module doc)."""
    interval = float(current_app.config.get("TV_LAST_SEEN_INTERVAL", 60))
    clock = time.monotonic()
    with _seen_lock:
        last = _seen.get(digest)
        if last is not None and clock - last < interval:
            return
        if len(_seen) >= _SEEN_MAX:
            _seen.clear()
        _seen[digest] = clock
    now = utcnow()
    cutoff = now - timedelta(seconds=interval)
    seen = aware(device.last_seen_at)
    if seen is not None and seen > cutoff:
        return  # another process wrote it recently
    address = (request.remote_addr or "")[:45]
    stmt = (
        update(Device)
        .where(Device.id == device.id, or_(Device.last_seen_at.is_(None), Device.last_seen_at <= cutoff))
        .values(last_seen_at=now, last_seen_ip=address)
    )
    try:
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # a row locked elsewhere must not stall the feed
                conn.execute(text("SET LOCAL lock_timeout = '500ms'"))
            conn.execute(stmt)
    except SQLAlchemyError:  # best effort: the feed answers even if the write is refused
        log.warning("could not record last-seen of device %s", device.id, exc_info=True)


# --- URLs that carry the key ------------------------------------------------------------------


def key_base(key: str) -> str:
    """``http://host/tv/k/<key>/`` for this site (what a box app takes as its base URL)."""
    return request.url_root + prefix.PREFIX.lstrip("/") + quote(key, safe="") + "/"


def play_base() -> str:
    """The absolute URL root carrying this request's key (the request's own root under the prefix)."""
    if prefix.prefixed_key() is not None:
        return request.url_root
    key = request_key()
    return key_base(key) if valid_key(key) else request.url_root


def under_base(base: str, path: str) -> str:
    """`path` (a site path from url_for, starting with the script root) appended to `base`."""
    root = request.script_root
    if root and path.startswith(root + "/"):
        path = path[len(root) :]
    return base + path.lstrip("/")


def device_url(endpoint: str, **values: Any) -> str:
    """Absolute URL of `endpoint` that carries this request's key, so players that send no header
    (VLC, box players following a feed) still authenticate."""
    return under_base(play_base(), url_for(endpoint, **values))
