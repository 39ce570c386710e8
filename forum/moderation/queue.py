"""The one review queue: everything held for a moderator, whatever package it came from.

A package that holds things for review registers a :class:`KindHandler` for its `kind`
("post" for forum posts; help requests and live questions later) and calls
:func:`enqueue` in the same transaction that holds the object. Deciding an item
(approve, reject, edit-and-approve, delete) is one conditional UPDATE of the item from
``open`` — a second moderator acting on the same item gets a clear refusal, never a
double publication — followed by the kind's handler, which changes the object and
notifies its author; both commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from dangxiao.extensions import db
from forum.moderation.models import ReviewItem

REASONS = {
    "rule": "命中敏感词",
    "board": "版块要求审核",
    "flags": "多人举报",
    "new_user": "新用户限制",
}


@dataclass(frozen=True)
class KindHandler:
    """What the queue calls to act on an object of one kind.

    Each callable gets (actor, item) plus what the action needs and only flushes:
    `approve(actor, item)` publishes; `reject(actor, item, reason)` keeps it from readers
    and tells the author why; `delete(actor, item, reason)` soft-deletes; `edit(actor,
    item, text)` replaces the text before approving (None: the kind cannot be edited);
    `url(item)` links to the object in context (None if there is no page).
    """

    label: str
    approve: Callable[[Any, ReviewItem], None]
    reject: Callable[[Any, ReviewItem, str], None]
    delete: Callable[[Any, ReviewItem, str], None]
    edit: Callable[[Any, ReviewItem, str], None] | None = None
    url: Callable[[ReviewItem], str | None] = lambda item: None


_KINDS: dict[str, KindHandler] = {}


def register_kind(kind: str, handler: KindHandler) -> None:
    if kind in _KINDS and _KINDS[kind] != handler:
        raise ValueError(f"review kind {kind!r} is already registered")
    _KINDS[kind] = handler


def handler_for(kind: str) -> KindHandler:
    try:
        return _KINDS[kind]
    except KeyError:
        raise LookupError(f"no review handler registered for {kind!r}") from None


def kinds() -> dict[str, KindHandler]:
    return dict(_KINDS)


def enqueue(
    kind: str,
    object_id: int,
    reason: str,
    *,
    author_id: int | None,
    branch_id: int | None,
    board_id: int | None = None,
    title: str = "",
    text: str = "",
    matches: list[dict] | None = None,
) -> ReviewItem:
    """Put an object in the queue (flushes); if it already has an open item, return that one.

    `text` is the text moderators read and `matches` the rule matches on it (offsets into
    `text`, as ``Verdict.as_dict()["matches"]``) so the queue highlights them.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown review reason {reason!r}")
    handler_for(kind)  # fail early on an unregistered kind
    existing = db.session.scalar(
        select(ReviewItem).where(ReviewItem.kind == kind, ReviewItem.object_id == object_id, ReviewItem.state == "open")
    )
    if existing is not None:
        return existing
    item = ReviewItem(
        kind=kind,
        object_id=object_id,
        reason=reason,
        author_id=author_id,
        branch_id=branch_id,
        board_id=board_id,
        title=title[:200],
        text=text,
        matches=list(matches or []),
        state="open",
    )
    db.session.add(item)
    db.session.flush()
    return item
