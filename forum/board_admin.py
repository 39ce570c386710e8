"""Board administration (admins): create and change boards, their moderators, order and archiving.

Every setting is validated here, not in the page, so the CLI, the demo seed and the pages
refuse the same things with the same Chinese message. Each change writes the moderation
audit log in the same transaction ("board_update"), so who changed a board's rules is on
record next to what moderators did under them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from dangxiao.accounts import services as accounts
from dangxiao.accounts.models import Branch, Role, User
from dangxiao.accounts.permissions import has_role
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.policy import require, rule
from dangxiao.text.clean import clean_line
from forum.models import Approval, Board, BoardModerator, PostAccess, ReadAccess
from forum.moderation import audit

NAME_MIN, NAME_MAX = 2, 30
DESCRIPTION_MAX = 300
FLAG_THRESHOLD_RANGE = (1, 50)
EDIT_WINDOW_RANGE = (0, 10080)  # minutes: up to a week
POSITION_RANGE = (0, 100_000)
MAX_MODERATORS = 50

FIELDS = (
    "name",
    "description",
    "position",
    "read_access",
    "post_access",
    "branch_id",
    "approval",
    "flag_threshold",
    "edit_window_minutes",
)
FIELD_LABELS = {
    "name": "名称",
    "description": "简介",
    "position": "排序",
    "read_access": "阅读权限",
    "post_access": "发帖权限",
    "branch_id": "指定组织",
    "approval": "审核方式",
    "flag_threshold": "举报隐藏阈值",
    "edit_window_minutes": "作者可编辑时限",
}


@rule("forum.manage_boards")
def manage_boards(actor: Any, _obj: Any = None) -> bool:
    """Boards decide who reads and posts where: admins only (moderators work inside them)."""
    return has_role(actor, Role.admin)


# --- validation ------------------------------------------------------------------------------


def _enum(kind: type[enum.Enum], raw: Any, field: str, label: str) -> Any:
    try:
        return kind(raw.value if isinstance(raw, enum.Enum) else raw)
    except ValueError:
        raise DomainError(f"未知的{label}。", f"{field}_invalid", field) from None


def _int(raw: Any, field: str, label: str, low: int, high: int) -> int:
    """An integer in [low, high]; form text ("５", " 3 ") is accepted, booleans and fractions are not."""
    if isinstance(raw, bool):
        raw = None
    if isinstance(raw, str):
        text = clean_line(raw, field, label, 12)
        raw = int(text) if text.isascii() and text.lstrip("-").isdigit() else None
    if not isinstance(raw, int):
        raise DomainError(f"{label}必须是整数。", f"{field}_invalid", field)
    if not low <= raw <= high:
        raise DomainError(f"{label}必须在 {low} 到 {high} 之间。", f"{field}_range", field)
    return raw


def _branch_id(raw: Any) -> int | None:
    if raw in (None, "", 0, "0"):
        return None
    value = _int(raw, "branch_id", "指定组织", 1, 2**31 - 1)
    if db.session.get(Branch, value) is None:
        raise DomainError("指定的组织不存在。", "branch_missing", "branch_id")
    return value


def _validated(values: Mapping[str, Any], board_id: int | None) -> dict[str, Any]:
    """All settings of a board, cleaned and checked together (branch access needs a branch)."""
    name = clean_line(values.get("name"), "name", "版块名称", NAME_MAX)
    if len(name) < NAME_MIN:
        raise DomainError(f"版块名称至少 {NAME_MIN} 个字符。", "name_short", "name")
    same = select(Board.id).where(func.lower(Board.name) == name.lower())
    if board_id is not None:
        same = same.where(Board.id != board_id)
    if db.session.scalar(same.limit(1)) is not None:
        raise DomainError(f"已有名为“{name}”的版块。", "name_taken", "name")
    out: dict[str, Any] = {
        "name": name,
        "description": clean_line(values.get("description"), "description", "版块简介", DESCRIPTION_MAX, False),
        "position": _int(values.get("position", 0), "position", "排序", *POSITION_RANGE),
        "read_access": _enum(ReadAccess, values.get("read_access"), "read_access", "阅读权限"),
        "post_access": _enum(PostAccess, values.get("post_access"), "post_access", "发帖权限"),
        "approval": _enum(Approval, values.get("approval"), "approval", "审核方式"),
        "flag_threshold": _int(values.get("flag_threshold"), "flag_threshold", "举报隐藏阈值", *FLAG_THRESHOLD_RANGE),
        "edit_window_minutes": _int(
            values.get("edit_window_minutes"), "edit_window_minutes", "作者可编辑时限（分钟）", *EDIT_WINDOW_RANGE
        ),
    }
    branch_id = _branch_id(values.get("branch_id"))
    needs_branch = out["read_access"] == ReadAccess.branch or out["post_access"] == PostAccess.branch
    if needs_branch and branch_id is None:
        raise DomainError("按组织开放阅读或发帖的版块，请选择指定组织。", "branch_required", "branch_id")
    # An unused branch would only block deleting that branch (RESTRICT) and confuse the next admin.
    out["branch_id"] = branch_id if needs_branch else None
    return out


def _unknown(fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown board fields: {sorted(unknown)}")


def get_board(board_id: int) -> Board:
    board = db.session.get(Board, board_id)
    if board is None:
        raise NotFound("版块不存在。")
    return board


def _label(board: Board, field: str) -> str:
    value = getattr(board, field)
    if isinstance(value, enum.Enum):
        return getattr(value, "label", str(value))
    if field == "branch_id":
        return board.branch.name if board.branch is not None else "—"
    return str(value)


# --- services ----------------------------------------------------------------------------------


def create_board(actor: Any, **fields: Any) -> Board:
    """A new board; unspecified settings take the usual defaults (members read and post, no approval)."""
    require(actor, "forum.manage_boards")
    _unknown(fields)
    values: dict[str, Any] = {
        "description": "",
        "read_access": ReadAccess.members,
        "post_access": PostAccess.members,
        "approval": Approval.none,
        "flag_threshold": 3,
        "edit_window_minutes": 60,
        "branch_id": None,
        **fields,
    }
    if values.get("position") in (None, ""):
        values["position"] = (db.session.scalar(select(func.max(Board.position))) or 0) + 1
    board = Board(**_validated(values, None))
    db.session.add(board)
    db.session.flush()
    audit.log(actor, "board_update", "board", board.id, board_id=board.id, summary=f"新建版块“{board.name}”")
    return board


def update_board(actor: Any, board_id: int, **fields: Any) -> Board:
    """Change any settings of a board; the audit entry names what changed (nothing changed: no entry)."""
    require(actor, "forum.manage_boards")
    _unknown(fields)
    board = get_board(board_id)
    current = {field: getattr(board, field) for field in FIELDS}
    values = _validated({**current, **fields}, board.id)
    changed = [field for field in FIELDS if values[field] != current[field]]
    for field in changed:
        setattr(board, field, values[field])
    db.session.flush()
    if changed:
        if "branch_id" in changed:
            db.session.refresh(board, ["branch"])
        details = "；".join(f"{FIELD_LABELS[f]}：{_label(board, f)}" for f in changed)
        audit.log(
            actor, "board_update", "board", board.id, board_id=board.id, summary=f"修改版块“{board.name}”：{details}"
        )
    return board


def set_moderators(actor: Any, board_id: int, entries: Iterable[tuple[int, int | None]]) -> list[BoardModerator]:
    """Replace the board's moderators with `entries` ((user id, scope branch id or None), one per user)."""
    require(actor, "forum.manage_boards")
    board = get_board(board_id)
    wanted: dict[int, int | None] = {}
    for user_id, scope_branch_id in entries:
        if user_id in wanted:
            raise DomainError("同一用户只能设置一次版主。", "moderator_duplicate", "moderators")
        user = db.session.get(User, user_id) if isinstance(user_id, int) else None
        if user is None:
            raise DomainError("版主账号不存在。", "moderator_missing", "moderators")
        if not user.is_active:
            raise DomainError(f"用户“{user.username}”的账号未启用，不能担任版主。", "moderator_inactive", "moderators")
        if scope_branch_id is not None and db.session.get(Branch, scope_branch_id) is None:
            raise DomainError("版主的管辖组织不存在。", "moderator_scope_missing", "moderators")
        wanted[user_id] = scope_branch_id
    if len(wanted) > MAX_MODERATORS:
        raise DomainError(f"一个版块最多设置 {MAX_MODERATORS} 名版主。", "moderators_many", "moderators")
    before = {row.user_id: row.scope_branch_id for row in board.moderators}
    if before == wanted:
        return list(board.moderators)
    for row in list(board.moderators):
        if row.user_id not in wanted:
            board.moderators.remove(row)
        else:
            row.scope_branch_id = wanted[row.user_id]
    for user_id, scope in wanted.items():
        if user_id not in before:
            board.moderators.append(BoardModerator(user_id=user_id, scope_branch_id=scope))
    db.session.flush()
    db.session.expire(board, ["moderators"])
    rows = list(board.moderators)
    names = "、".join(describe_moderator(row) for row in rows) or "无"
    audit.log(actor, "board_update", "board", board.id, board_id=board.id, summary=f"版块“{board.name}”的版主：{names}")
    return rows


def set_archived(actor: Any, board_id: int, archived: bool) -> Board:
    """Archive (read-only, hidden from the board list) or bring back a board; repeating is a no-op."""
    require(actor, "forum.manage_boards")
    board = get_board(board_id)
    if board.archived != bool(archived):
        board.archived = bool(archived)
        db.session.flush()
        what = "归档" if archived else "取消归档"
        audit.log(actor, "board_update", "board", board.id, board_id=board.id, summary=f"{what}版块“{board.name}”")
    return board


def archive_board(actor: Any, board_id: int) -> Board:
    return set_archived(actor, board_id, True)


def unarchive_board(actor: Any, board_id: int) -> Board:
    return set_archived(actor, board_id, False)


def reorder_boards(actor: Any, board_ids: list[int]) -> None:
    """Give the listed boards positions 1, 2, 3 … in that order (the others keep theirs)."""
    require(actor, "forum.manage_boards")
    boards = [get_board(board_id) for board_id in board_ids]
    if len({b.id for b in boards}) != len(boards):
        raise DomainError("排序中有重复的版块。", "order_duplicate")
    moved = []
    for position, board in enumerate(boards, start=1):
        if board.position != position:
            board.position = position
            moved.append(board)
    db.session.flush()
    for board in moved:
        audit.log(actor, "board_update", "board", board.id, board_id=board.id, summary=f"调整版块“{board.name}”的排序")


def move_board(actor: Any, board_id: int, offset: int) -> None:
    """Move a board up (-1) or down (+1) in the list: the whole order is renumbered 1…n."""
    require(actor, "forum.manage_boards")
    ids = list(db.session.scalars(select(Board.id).order_by(Board.position, Board.id)))
    if board_id not in ids:
        raise NotFound("版块不存在。")
    at = ids.index(board_id)
    to = max(0, min(len(ids) - 1, at + offset))
    ids.insert(to, ids.pop(at))
    reorder_boards(actor, ids)


# --- moderators as text (the edit page) --------------------------------------------------------


def describe_moderator(row: BoardModerator) -> str:
    scope = f"（{row.scope_branch.name}）" if row.scope_branch is not None else ""
    return f"{row.user.display_name}{scope}"


def moderators_text(board: Board) -> str:
    """The board's moderators as the edit page shows them: "username" or "username 组织名", one a line."""
    lines = []
    for row in sorted(board.moderators, key=lambda r: r.user.username):
        lines.append(f"{row.user.username} {row.scope_branch.name}" if row.scope_branch else row.user.username)
    return "\n".join(lines)


def parse_moderators(text: str) -> list[tuple[int, int | None]]:
    """Lines of "username" or "username 组织名" → (user id, scope branch id); blank lines skipped.

    The message names the line at fault, so a long list is fixed in one go.
    """
    if not isinstance(text, str):
        raise DomainError("版主列表必须是文字。", "moderators_invalid", "moderators")
    entries: list[tuple[int, int | None]] = []
    seen: set[int] = set()
    lines = [line for line in text.replace("\r", "\n").split("\n") if line.strip()]
    if len(lines) > MAX_MODERATORS:
        raise DomainError(f"一个版块最多设置 {MAX_MODERATORS} 名版主。", "moderators_many", "moderators")
    for raw in lines:
        line = clean_line(raw, "moderators", "版主", 200)
        username, _, branch_name = line.partition(" ")
        user = accounts.find_user(username)
        if user is None:
            raise DomainError(f"找不到用户“{username}”。", "moderator_missing", "moderators")
        if not user.is_active:
            raise DomainError(f"用户“{username}”的账号未启用，不能担任版主。", "moderator_inactive", "moderators")
        if user.id in seen:
            raise DomainError(f"用户“{username}”重复出现。", "moderator_duplicate", "moderators")
        seen.add(user.id)
        scope_id = None
        branch_name = branch_name.strip()
        if branch_name:
            found = list(db.session.scalars(select(Branch.id).where(Branch.name == branch_name).limit(2)))
            if not found:
                raise DomainError(f"找不到组织“{branch_name}”。", "moderator_scope_missing", "moderators")
            if len(found) > 1:
                raise DomainError(f"有多个名为“{branch_name}”的组织。", "moderator_scope_ambiguous", "moderators")
            scope_id = found[0]
        entries.append((user.id, scope_id))
    return entries


# --- the list page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    board: Board
    moderators: list[str]


def board_rows() -> list[BoardRow]:
    """Every board (archived too) in display order, with its moderators' names."""
    boards = db.session.scalars(select(Board).order_by(Board.position, Board.id)).all()
    return [BoardRow(b, [describe_moderator(m) for m in b.moderators]) for b in boards]
