"""The catalogue version and tombstones, kept by session hooks in the writer's own transaction.

Every feed caches on ``tv_feed_state.version``: when a flush inserts, changes or deletes a
course, lesson, category or assignment (or what decides whether a lesson plays or which
courses a station sees: an asset's status, a branch's parent, a device's branch), the hook
marks the session; just before the outermost commit ONE ``UPDATE tv_feed_state SET
version = version + 1`` runs, together with the tombstone rows, in the same transaction as the
change. So a reader that sees the new content also sees the new version (and vice versa),
a rollback leaves both untouched, and a transaction that changes fifty lessons moves the
version once. The UPDATE is the last statement before the commit, so its row lock (which
serialises catalogue writers on PostgreSQL) is held for a moment only.

Tombstones tell boxes that sync with ``updated_since`` what left: a course deleted or
unpublished (or closed to all), a lesson deleted, an assignment removed (the course may be
gone for that branch). They may over-report — the catalogue only hands out the ones for
courses and lessons the station does not see now — and are pruned after TV_TOMBSTONE_DAYS.
Bulk UPDATE and DELETE statements skip the flush: the media jobs move an asset to ready (or
away from it) with one conditional UPDATE each. A statement run through the session on one of
the catalogue's tables (or the assets') marks the transaction the same way; other bulk writes
(Core connections, a device's last-seen time) that change a catalogue can call :func:`touch`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import delete, event, insert, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from dangxiao.accounts.models import Branch
from dangxiao.db_types import aware, utcnow
from dangxiao.extensions import db
from dangxiao.school.models import Category, Course, CourseAssignment, Lesson
from dangxiao.tv.models import Device, FeedState, Tombstone
from media.models import MediaAsset

_PENDING = "dangxiao.tv.changes"  # session.info: {"bump": bool, "tombstones": [(kind, id, course_id)]}
_DONE = "dangxiao.tv.bumped"  # session.info: this transaction already moved the version
_MEMO = "tv.version_memo"  # app.extensions: (monotonic time read, (version, changed_at))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Any change of these moves the version.
_ALWAYS = (Course, Lesson, Category, CourseAssignment)
#: Only an UPDATE of these attributes does (a new upload, branch or station changes no catalogue,
#: nor does a device's last-seen time).
_FIELDS: dict[type, frozenset[str]] = {
    MediaAsset: frozenset({"status", "output_dir"}),
    Branch: frozenset({"parent_id"}),
    Device: frozenset({"branch_id", "revoked_at", "key_hash"}),  # the stations' lookup cache reads the version
}
#: Tables whose bulk UPDATE/DELETE through the session moves the version (any column: the media
#: jobs only bulk-update an asset when its status or published version changes).
_BULK = frozenset(cls.__table__ for cls in (*_ALWAYS, MediaAsset))

_installed = False
_state = FeedState.__table__
#: Built once: a Core statement on the table skips the ORM's per-call statement building (≈0.5 ms).
_VERSION = select(_state.c.version, _state.c.changed_at).where(_state.c.id == 1)


def watch() -> None:
    """Install the hooks (once per process; every app's sessions share them)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _after_bulk)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _forget)
    event.listen(Session, "after_soft_rollback", _after_rollback)
    _installed = True


def current_version() -> tuple[int, datetime]:
    """(version, changed_at) of the catalogue: one primary-key read, remembered in this process
    for TV_VERSION_TTL seconds (0: read every time). A commit in this process that moves the
    version forgets it at once; other processes' commits are seen at most TTL seconds late, so a
    feed may briefly serve the previous catalogue, never a mix."""
    ttl = float(current_app.config.get("TV_VERSION_TTL", 1.0))
    clock = time.monotonic()
    memo = current_app.extensions.get(_MEMO)
    if memo is not None and ttl > 0 and clock - memo[0] < ttl:
        return memo[1]
    row = db.session.execute(_VERSION).first()
    if row is None:  # a database made without the migration's seed row
        value = (0, EPOCH)
    else:
        value = (int(row[0]), (aware(row[1]) or EPOCH).astimezone(UTC))
    current_app.extensions[_MEMO] = (clock, value)
    return value


def touch() -> None:
    """Mark the current transaction of ``db.session`` as a catalogue change (for bulk UPDATEs)."""
    _pending(db.session()).update(bump=True)


def _pending(session: Session) -> dict[str, Any]:
    return session.info.setdefault(_PENDING, {"bump": False, "tombstones": []})


def _changed(obj: Any, names: frozenset[str] | None) -> bool:
    state = inspect(obj)
    if names is None:
        return any(attr.history.has_changes() for attr in state.attrs)
    return any(attr.key in names and attr.history.has_changes() for attr in state.attrs)


def _was(obj: Any, name: str, old: Any, new: Any) -> bool:
    """Did this flush change `name` from `old` to `new`?"""
    history = getattr(inspect(obj).attrs, name).history
    return old in (history.deleted or ()) and getattr(obj, name) == new


def _tombstones_for(obj: Any, deleted: bool) -> list[tuple[str, int, int]]:
    if isinstance(obj, Course):
        if deleted or _was(obj, "published", True, False) or _was(obj, "open_to_all", True, False):
            return [("course", obj.id, obj.id)]
    elif isinstance(obj, Lesson) and deleted:
        return [("lesson", obj.id, obj.course_id)]
    elif isinstance(obj, CourseAssignment):
        if deleted:
            return [("course", obj.course_id, obj.course_id)]
        history = inspect(obj).attrs.branch_id.history
        if history.deleted and history.deleted[0] is not None:  # moved to another branch
            return [("course", obj.course_id, obj.course_id)]
    return []


def _after_flush(session: Session, flush_context: Any) -> None:
    """Note what this flush changed (attribute history is still there)."""
    bump = False
    stones: list[tuple[str, int, int]] = []
    dirty = session.dirty
    for group, deleted in ((session.new, False), (dirty, False), (session.deleted, True)):
        for obj in group:
            if isinstance(obj, _ALWAYS):
                if group is dirty and not _changed(obj, None):
                    continue
                bump = True
                if group is not session.new:
                    stones.extend(_tombstones_for(obj, deleted))
            elif group is dirty:
                names = next((names for cls, names in _FIELDS.items() if isinstance(obj, cls)), None)
                if names is not None and _changed(obj, names):
                    bump = True
    if not bump:
        return
    if session.info.get(_DONE):  # flushed after our before_commit ran: write at once, same transaction
        _write(session, bump=False, stones=stones)
        return
    pending = _pending(session)
    pending["bump"] = True
    pending["tombstones"].extend(stones)


def _after_bulk(state: ORMExecuteState) -> None:
    """A bulk UPDATE or DELETE of a catalogue table (no flush sees it) marks the transaction."""
    if not (state.is_update or state.is_delete) or getattr(state.statement, "table", None) not in _BULK:
        return
    if not state.session.info.get(_DONE):  # else this transaction has moved the version already
        _pending(state.session)["bump"] = True


def _before_commit(session: Session) -> None:
    """Move the version (once) and write the tombstones, as the last statements of the transaction."""
    if session.in_nested_transaction():
        return
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit's own flush comes after this hook; run it now so we see everything
    pending = session.info.pop(_PENDING, None)
    if not pending or not pending["bump"] or session.info.get(_DONE):
        return
    _write(session, bump=True, stones=pending["tombstones"])
    session.info[_DONE] = True


def _write(session: Session, *, bump: bool, stones: list[tuple[str, int, int]]) -> None:
    now = utcnow()
    if bump:
        session.execute(update(_state).where(_state.c.id == 1).values(version=_state.c.version + 1, changed_at=now))
    rows = [{"kind": k, "ref_id": i, "course_id": c, "removed_at": now} for k, i, c in dict.fromkeys(stones)]
    if rows:
        stones = Tombstone.__table__
        session.execute(insert(stones), rows)
        days = current_app.config.get("TV_TOMBSTONE_DAYS", 90) if has_app_context() else 90
        session.execute(delete(stones).where(stones.c.removed_at < now - timedelta(days=days)))


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
    if session.info.pop(_DONE, None) and has_app_context():
        current_app.extensions.pop(_MEMO, None)  # this process's readers see its own change at once


def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        _forget(session)
