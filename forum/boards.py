"""Who may read, post in and moderate which board: the one answer every forum page, the
review queue and (later) search share.

Reading: ``public`` boards are open to anyone, ``members`` boards to any active member,
``branch`` boards to members of the board's branch subtree. Posting additionally needs
an active account and, for ``branch`` boards, membership of the subtree; ``moderators``
boards take posts from their moderators only (announcement boards).

Moderating: admins and unscoped 版主 (Role.moderator without a branch) moderate every
board; a 版主 scoped to a branch moderates posts whose author belongs to that subtree,
on every board; a board moderator row covers its board, optionally only for authors in
its scope branch's subtree. Moderators may read what they moderate even if the board is
restricted. :func:`moderates` answers for one object, :func:`moderation_filter` builds
the same answer as SQL for the review queue.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context
from sqlalchemy import ColumnElement, Select, and_, bindparam, false, or_, select, true
from sqlalchemy.orm import lazyload

from dangxiao.accounts.branches import ancestor_ids, subtree_ids_query
from dangxiao.accounts.models import Role
from dangxiao.accounts.permissions import has_role, scope_roots
from dangxiao.extensions import db
from dangxiao.policy import is_system
from forum.models import Board, BoardModerator, PostAccess, ReadAccess
from forum.moderation.models import ReviewItem


def _active(actor: Any) -> bool:
    return (
        actor is not None
        and bool(getattr(actor, "is_authenticated", False))
        and bool(getattr(actor, "is_active", False))
    )


def is_forum_admin(actor: Any) -> bool:
    return is_system(actor) or has_role(actor, Role.admin)


def _ancestors(branch_id: int) -> list[int]:
    """:func:`ancestor_ids`, remembered for the rest of the request: a topic page asks about the
    branch of every author on it, a few dozen authors from a handful of branches."""
    if not has_request_context():
        return ancestor_ids(branch_id)
    cache = g.setdefault("_forum_ancestors", {})
    chain = cache.get(branch_id)
    if chain is None:
        chain = cache[branch_id] = ancestor_ids(branch_id)
    return chain


def _in_subtree(branch_id: int | None, root_id: int | None) -> bool:
    return branch_id is not None and root_id is not None and root_id in _ancestors(branch_id)


# Only the ids are read from these rows: not the user and scope branch the mapping joins by default.
_MODERATOR_ROWS = select(BoardModerator).where(BoardModerator.user_id == bindparam("user_id")).options(lazyload("*"))


def _board_moderator_rows(actor: Any) -> list[BoardModerator]:
    if not _active(actor) or is_system(actor):
        return []
    cache = getattr(actor, "_forum_board_mods", None)
    if cache is None:
        cache = list(db.session.scalars(_MODERATOR_ROWS, {"user_id": actor.id}))
        try:
            actor._forum_board_mods = cache  # per request: the user object lives one request
        except AttributeError:
            pass
    return cache


def moderates(actor: Any, board: Board | None, author_branch_id: int | None = None) -> bool:
    """May `actor` moderate a post on `board` by an author of `author_branch_id`?

    With `board` None (a help request, a live question with no board) only the branch
    scopes count. With `author_branch_id` None, a branch-scoped moderator does not
    qualify: fail closed.
    """
    if not _active(actor):
        return False
    if is_forum_admin(actor):
        return True
    roots = scope_roots(actor, Role.moderator)
    if roots is None:
        return True
    if any(_in_subtree(author_branch_id, root) for root in roots):
        return True
    if board is None:
        return False
    for row in _board_moderator_rows(actor):
        if row.board_id == board.id and (
            row.scope_branch_id is None or _in_subtree(author_branch_id, row.scope_branch_id)
        ):
            return True
    return False


def moderates_any_board(actor: Any, board: Board) -> bool:
    """Is `actor` one of the moderators of `board` at all (any scope)? For topic-wide actions
    (pin, lock, move) and for reading restricted boards."""
    if not _active(actor):
        return False
    if is_forum_admin(actor) or scope_roots(actor, Role.moderator) is None:
        return True
    return any(row.board_id == board.id for row in _board_moderator_rows(actor))


def is_moderator_anywhere(actor: Any) -> bool:
    """Does `actor` moderate anything (shows the 审核队列 link)?"""
    if not _active(actor):
        return False
    return has_role(actor, Role.moderator) or bool(_board_moderator_rows(actor))


def may_read(actor: Any, board: Board | None) -> bool:
    if board is None:
        return False
    if board.read_access == ReadAccess.public:
        return True
    if not _active(actor):
        return False
    if is_forum_admin(actor) or moderates_any_board(actor, board):
        return True
    if board.read_access == ReadAccess.members:
        return True
    return _in_subtree(getattr(actor, "branch_id", None), board.branch_id)


def may_post(actor: Any, board: Board | None) -> bool:
    """May `actor` start topics and reply on `board` (rate limits and silences aside)?"""
    if board is None or board.archived or not _active(actor) or is_system(actor):
        return False
    if not may_read(actor, board):
        return False
    if moderates_any_board(actor, board):
        return True
    if board.post_access == PostAccess.moderators:
        return False
    if board.post_access == PostAccess.branch or board.read_access == ReadAccess.branch:
        return _in_subtree(getattr(actor, "branch_id", None), board.branch_id)
    return True


def readable_boards_stmt(actor: Any, *, include_archived: bool = False) -> Select:
    """``select(Board)`` filtered to what `actor` may read, in board order."""
    stmt = select(Board).order_by(Board.position, Board.id)
    if not include_archived:
        stmt = stmt.where(Board.archived.is_(False))
    if not _active(actor):
        return stmt.where(Board.read_access == ReadAccess.public)
    if is_forum_admin(actor) or scope_roots(actor, Role.moderator) is None:
        return stmt
    branch_id = getattr(actor, "branch_id", None)
    chain = _ancestors(branch_id) if branch_id else []
    moderated = [row.board_id for row in _board_moderator_rows(actor)]
    return stmt.where(
        or_(
            Board.read_access.in_([ReadAccess.public, ReadAccess.members]),
            and_(Board.read_access == ReadAccess.branch, Board.branch_id.in_(chain)) if chain else false(),
            Board.id.in_(moderated) if moderated else false(),
        )
    )


def readable_board_ids(actor: Any) -> Select:
    """The ids of boards `actor` may read, as a subquery (search and topic lists filter by it)."""
    return readable_boards_stmt(actor, include_archived=True).with_only_columns(Board.id).order_by(None)


def moderation_filter(actor: Any) -> ColumnElement[bool]:
    """A WHERE clause over :class:`ReviewItem` keeping the items `actor` moderates."""
    if not _active(actor):
        return false()
    if is_forum_admin(actor):
        return true()
    roots = scope_roots(actor, Role.moderator)
    if roots is None:
        return true()
    clauses: list[ColumnElement[bool]] = [ReviewItem.branch_id.in_(subtree_ids_query(root)) for root in roots]
    for row in _board_moderator_rows(actor):
        if row.scope_branch_id is None:
            clauses.append(ReviewItem.board_id == row.board_id)
        else:
            clauses.append(
                and_(
                    ReviewItem.board_id == row.board_id,
                    ReviewItem.branch_id.in_(subtree_ids_query(row.scope_branch_id)),
                )
            )
    return or_(*clauses) if clauses else false()
