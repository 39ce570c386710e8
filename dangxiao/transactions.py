"""One unit of work per request, CLI command or task; side effects only after it commits.

Services change rows and ``flush`` (so ids and constraints are known) but never
commit: the caller — a view, a CLI command, a Huey task — wraps the call in
:func:`atomic`, which commits once or rolls everything back. Work that must not
happen for a rolled-back change (queueing a job, pushing a notification, indexing for
search) is registered with :func:`after_commit` and runs only once the commit has
succeeded; a rollback discards it.

Callbacks run after the database transaction is over: they must capture plain values
(ids, text) and not use ``db.session`` to write. A failing callback is logged and
does not undo the commit (the data is stored; a push or a queue hand-off is
recoverable — the reaper re-sends queued jobs, a page reload shows notifications).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

from dangxiao.extensions import db

log = logging.getLogger(__name__)

_PENDING = "dangxiao.after_commit"


def after_commit(callback: Callable[[], object]) -> None:
    """Run `callback` once the current transaction of ``db.session`` commits (never on rollback)."""
    db.session().info.setdefault(_PENDING, []).append(callback)


@contextmanager
def atomic() -> Iterator[None]:
    """Commit once when the block ends, roll back (and drop after-commit work) if it raises."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_PENDING, None)
    for callback in callbacks or ():
        try:
            callback()
        except Exception:  # noqa: BLE001 — the data is committed; a lost side effect is logged
            log.exception("after-commit callback %r failed", callback)


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_PENDING, None)
