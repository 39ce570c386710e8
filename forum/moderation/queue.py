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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.queries import get_or_404
from dangxiao.text.clean import clean_block, clean_line
from forum.boards import is_moderator_anywhere, moderates, moderation_filter
from forum.models import Board
from forum.moderation import audit
from forum.moderation import silence as silences
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

    The insert runs in a SAVEPOINT and the partial unique index (one open item per object)
    decides: an object already in the queue, or a race between two transactions holding the
    same object (two flags reaching the threshold at once), fails the insert alone and the
    open row is returned; the caller's transaction goes on. No look-up first: it could not
    see a concurrent insert anyway, and holding an object twice is rare.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown review reason {reason!r}")
    handler_for(kind)  # fail early on an unregistered kind
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
    try:
        with db.session.begin_nested():
            db.session.add(item)
    except IntegrityError:
        existing = _open_item(kind, object_id)
        if existing is None:  # another constraint failed: not the race this guards against
            raise
        return existing
    return item


def _open_item(kind: str, object_id: int) -> ReviewItem | None:
    return db.session.scalar(
        select(ReviewItem).where(ReviewItem.kind == kind, ReviewItem.object_id == object_id, ReviewItem.state == "open")
    )


# --- Reading the queue ----------------------------------------------------------------


def _open_where(actor: Any, kind: str | None = None, board_id: int | None = None, reason: str | None = None) -> list:
    conditions = [ReviewItem.state == "open", moderation_filter(actor)]
    if kind:
        conditions.append(ReviewItem.kind == kind)
    if board_id:
        conditions.append(ReviewItem.board_id == board_id)
    if reason:
        conditions.append(ReviewItem.reason == reason)
    return conditions


def open_items_stmt(
    actor: Any, *, kind: str | None = None, board_id: int | None = None, reason: str | None = None
) -> Select:
    """``select(ReviewItem)``: the open items `actor` moderates, filtered, oldest first."""
    return (
        select(ReviewItem)
        .where(*_open_where(actor, kind, board_id, reason))
        .order_by(ReviewItem.created_at, ReviewItem.id)
    )


def reason_counts(actor: Any, *, kind: str | None = None, board_id: int | None = None) -> dict[str, int]:
    """Open items per reason under the other filters (every reason present, zeros included)."""
    rows = db.session.execute(
        select(ReviewItem.reason, func.count(ReviewItem.id))
        .where(*_open_where(actor, kind, board_id))
        .group_by(ReviewItem.reason)
    ).all()
    counts = dict.fromkeys(REASONS, 0)
    counts.update({reason: int(n) for reason, n in rows})
    return counts


def open_boards(actor: Any) -> list[tuple[int, str]]:
    """(id, name) of the boards holding open items `actor` moderates, in board order (the board filter)."""
    holding = select(ReviewItem.board_id).where(*_open_where(actor), ReviewItem.board_id.is_not(None))
    return [
        (board_id, name)
        for board_id, name in db.session.execute(
            select(Board.id, Board.name).where(Board.id.in_(holding)).order_by(Board.position, Board.id)
        )
    ]


def open_count(actor: Any) -> int:
    """How many open items `actor` may act on (the header badge); 0 without a query for non-moderators."""
    if not is_moderator_anywhere(actor):
        return 0
    return int(db.session.scalar(select(func.count(ReviewItem.id)).where(*_open_where(actor))) or 0)


# --- Deciding an item -----------------------------------------------------------------

MAX_EDIT_CHARS = 100_000  # an outer bound only: the kind's handler applies its own limits
ALREADY_DECIDED = "该条目已被其他版主处理。"


def _item_in_scope(actor: Any, item_id: int) -> ReviewItem:
    """The item, if `actor` moderates it (else Forbidden; a missing item is NotFound)."""
    item = get_or_404(ReviewItem, item_id, "审核条目不存在或已被删除。")
    board = db.session.get(Board, item.board_id) if item.board_id is not None else None
    if not moderates(actor, board, item.branch_id):
        raise Forbidden("您不是该版块或该组织的版主，不能处理这条内容。", "forbidden")
    return item


def _decide(actor: Any, item: ReviewItem, state: str, note: str) -> None:
    """Close the item with one conditional UPDATE: of two moderators, only the first wins."""
    done = db.session.execute(
        update(ReviewItem)
        .where(ReviewItem.id == item.id, ReviewItem.state == "open")
        .values(state=state, decided_at=utcnow(), decided_by_id=getattr(actor, "id", None), decision_note=note[:200])
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        db.session.refresh(item)
        raise DomainError(ALREADY_DECIDED, "already_decided")
    db.session.refresh(item)


def describe(item: ReviewItem) -> str:
    """What the audit log names the object by: its title, else the start of its text."""
    text = item.title or " ".join((item.text or "").split())
    return text[:80]


def _reason(raw: Any, label: str) -> str:
    return clean_line(raw, "reason", label, 200)


def approve(actor: Any, item_id: int) -> ReviewItem:
    """Publish the held object."""
    item = _item_in_scope(actor, item_id)
    handler = handler_for(item.kind)
    _decide(actor, item, "approved", "")
    handler.approve(actor, item)
    audit.log(actor, "approve", item.kind, item.object_id, board_id=item.board_id, summary=describe(item))
    return item


def reject(actor: Any, item_id: int, reason: str) -> ReviewItem:
    """Keep the object from readers; the handler tells the author `reason`."""
    item = _item_in_scope(actor, item_id)
    reason = _reason(reason, "驳回原因")
    handler = handler_for(item.kind)
    _decide(actor, item, "rejected", reason)
    handler.reject(actor, item, reason)
    audit.log(actor, "reject", item.kind, item.object_id, board_id=item.board_id, summary=describe(item), reason=reason)
    return item


def edit_and_approve(actor: Any, item_id: int, text: str) -> ReviewItem:
    """Replace the object's text (the handler keeps the old one as a revision), then publish."""
    item = _item_in_scope(actor, item_id)
    handler = handler_for(item.kind)
    if handler.edit is None:
        raise DomainError("这类内容不能修改后通过。", "not_editable")
    text = clean_block(text, "text", "修改后的内容", MAX_EDIT_CHARS)
    _decide(actor, item, "approved", "修改后通过")
    handler.edit(actor, item, text)
    handler.approve(actor, item)
    audit.log(actor, "edit_approve", item.kind, item.object_id, board_id=item.board_id, summary=describe(item))
    return item


def delete(actor: Any, item_id: int, reason: str) -> ReviewItem:
    """Soft-delete the object with `reason`."""
    item = _item_in_scope(actor, item_id)
    reason = _reason(reason, "删除原因")
    handler = handler_for(item.kind)
    _decide(actor, item, "deleted", reason)
    handler.delete(actor, item, reason)
    audit.log(actor, "delete", item.kind, item.object_id, board_id=item.board_id, summary=describe(item), reason=reason)
    return item


def silence_author(actor: Any, item_id: int, days: int, reason: str):
    """Silence the author of an item `actor` moderates (the item itself stays open)."""
    item = _item_in_scope(actor, item_id)
    if item.author_id is None:
        raise DomainError("作者账号已不存在。", "no_author")
    return silences.silence(actor, item.author_id, days, reason, board_id=item.board_id)


# --- Highlighting matched words -------------------------------------------------------


def _bounds(match: Any) -> tuple[Any, Any]:
    if isinstance(match, Mapping):
        return match.get("start"), match.get("end")
    return getattr(match, "start", None), getattr(match, "end", None)


def pieces(text: str, matches: Iterable[Any]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, matched) pieces; overlapping or touching matches are merged.

    `matches` are engine ``Match`` tuples or their stored dicts (``start``/``end`` character
    offsets into `text`); spans out of range (a stale match) are clipped or skipped.
    """
    spans: list[list[int]] = []
    size = len(text)
    bounds = []
    for m in matches:
        start, end = _bounds(m)
        if isinstance(start, int) and isinstance(end, int) and not isinstance(start, bool):
            start, end = max(0, start), min(size, end)
            if start < end:
                bounds.append((start, end))
    for start, end in sorted(bounds):
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    out: list[tuple[str, bool]] = []
    at = 0
    for start, end in spans:
        if start > at:
            out.append((text[at:start], False))
        out.append((text[start:end], True))
        at = end
    if at < size:
        out.append((text[at:], False))
    return out


def highlight(text: str, matches: Iterable[Any]) -> Markup:
    """`text` HTML-escaped with each matched span wrapped in ``<mark>`` (safe to output as is)."""
    return Markup("").join(
        Markup("<mark>%s</mark>") % piece if hit else escape(piece) for piece, hit in pieces(text, matches)
    )
