"""The organisation tree: subtree queries and the rules for changing it.

Changes take the acting user and flush; the caller commits (see dangxiao.transactions).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from dangxiao.accounts.models import Branch, BranchKind, User, UserRole
from dangxiao.accounts.validation import normalise_region_code
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.queries import get_or_404
from dangxiao.text.clean import clean_line

# What may sit directly under each level: a 党委 may hold 党委 (a town's under the county's),
# 党总支 and 党支部; a 党总支 holds 党支部; a 党支部 is the leaf where members belong.
ALLOWED_CHILDREN = {
    BranchKind.committee: {BranchKind.committee, BranchKind.general_branch, BranchKind.branch},
    BranchKind.general_branch: {BranchKind.branch},
    BranchKind.branch: set(),
}


def subtree_ids_query(root_id: int):
    """A recursive CTE selecting the ids of root_id and every branch under it.

    Plain SQL recursion works the same on SQLite and PostgreSQL, so there is no
    materialised path to keep in sync when a branch moves.
    """
    tree = select(Branch.id).where(Branch.id == root_id).cte("subtree", recursive=True)
    tree = tree.union_all(select(Branch.id).where(Branch.parent_id == tree.c.id))
    return select(tree.c.id)


def subtree_ids(root_id: int) -> set[int]:
    return set(db.session.scalars(subtree_ids_query(root_id)))


def ancestor_ids(branch_id: int) -> list[int]:
    """Ids from branch_id up to its root (itself first)."""
    up = select(Branch.id, Branch.parent_id).where(Branch.id == branch_id).cte("ancestors", recursive=True)
    up = up.union_all(select(Branch.id, Branch.parent_id).where(Branch.id == up.c.parent_id))
    return list(db.session.scalars(select(up.c.id)))


def get_branch(branch_id: int) -> Branch:
    return get_or_404(Branch, branch_id, "组织不存在。")


def _check_level(kind: BranchKind, parent: Branch | None) -> None:
    if parent is not None and kind not in ALLOWED_CHILDREN[parent.kind]:
        raise DomainError(
            f"{parent.kind.label}下不能设立{kind.label}（党委下可设党委、党总支、党支部；党总支下只设党支部；"
            "党支部下不设组织）。",
            "branch_level",
            "kind",
        )


def _parse_kind(kind: str | BranchKind) -> BranchKind:
    try:
        return BranchKind(kind)
    except ValueError:
        raise DomainError("组织类型不正确。", "kind_invalid", "kind") from None


def _check_unique_name(name: str, parent_id: int | None, exclude_id: int | None) -> None:
    stmt = select(func.count()).select_from(Branch).where(Branch.name == name)
    stmt = stmt.where(Branch.parent_id.is_(None) if parent_id is None else Branch.parent_id == parent_id)
    if exclude_id is not None:
        stmt = stmt.where(Branch.id != exclude_id)
    if db.session.scalar(stmt):
        raise DomainError("同一上级组织下已有同名组织。", "branch_duplicate", "name")


def create_branch(
    actor: Any, name: str, kind: str | BranchKind, parent_id: int | None = None, region_code: str = ""
) -> Branch:
    require(actor, "branch.manage")
    name = clean_line(name, "name", "组织名称", 100)
    kind = _parse_kind(kind)
    region_code = normalise_region_code(region_code)
    _check_level(kind, get_branch(parent_id) if parent_id is not None else None)
    _check_unique_name(name, parent_id, None)
    branch = Branch(name=name, kind=kind, parent_id=parent_id, region_code=region_code)
    db.session.add(branch)
    db.session.flush()
    return branch


def update_branch(
    actor: Any, branch_id: int, name: str, kind: str | BranchKind, parent_id: int | None, region_code: str = ""
) -> Branch:
    """Rename, re-level or move a branch; refuses cycles and levels out of order."""
    require(actor, "branch.manage")
    branch = get_branch(branch_id)
    name = clean_line(name, "name", "组织名称", 100)
    kind = _parse_kind(kind)
    region_code = normalise_region_code(region_code)
    parent = None
    if parent_id is not None:
        parent = get_branch(parent_id)
        if parent_id in subtree_ids(branch.id):
            raise DomainError("不能把组织移动到它自己或它的下级组织之下。", "branch_cycle", "parent_id")
    _check_level(kind, parent)
    for child in branch.children:
        if child.kind not in ALLOWED_CHILDREN[kind]:
            raise DomainError(
                f"“{branch.name}”下有{child.kind.label}“{child.name}”，不能改为{kind.label}。",
                "branch_level",
                "kind",
            )
    _check_unique_name(name, parent_id, branch.id)
    branch.name, branch.kind, branch.parent_id, branch.region_code = (
        name,
        kind,
        parent_id,
        region_code,
    )
    db.session.flush()
    return branch


def delete_branch(actor: Any, branch_id: int) -> str:
    """Delete an empty leaf; members, sub-branches and role scopes must be moved away first.

    Returns the deleted branch's name (for the message).
    """
    require(actor, "branch.manage")
    branch = get_branch(branch_id)
    members = db.session.scalar(select(func.count()).select_from(User).where(User.branch_id == branch.id))
    if members:
        raise DomainError(
            f"“{branch.name}”下还有 {members} 名成员，请先将他们转到其他组织后再删除。",
            "branch_has_members",
        )
    children = db.session.scalar(select(func.count()).select_from(Branch).where(Branch.parent_id == branch.id))
    if children:
        raise DomainError(
            f"“{branch.name}”下还有 {children} 个下级组织，请先删除或移走下级组织。",
            "branch_has_children",
        )
    scoped = list(db.session.scalars(select(UserRole).where(UserRole.scope_branch_id == branch.id)))
    if scoped:
        holders = "、".join(f"{r.user.display_name}（{r.role.label}）" for r in scoped[:5])
        more = f"等 {len(scoped)} 个角色" if len(scoped) > 5 else ""
        raise DomainError(
            f"“{branch.name}”是 {holders}{more}的管辖范围，请先调整这些角色后再删除。",
            "branch_has_role_scopes",
        )
    name = branch.name
    db.session.delete(branch)
    db.session.flush()
    return name


def tree_rows() -> list[tuple[Branch, int]]:
    """Every branch with its depth, in display order (depth-first, by name)."""
    branches = list(db.session.scalars(select(Branch).order_by(Branch.name)))
    by_parent: dict[int | None, list[Branch]] = {}
    for b in branches:
        by_parent.setdefault(b.parent_id, []).append(b)
    rows: list[tuple[Branch, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for b in by_parent.get(parent, []):
            rows.append((b, depth))
            walk(b.id, depth + 1)

    walk(None, 0)
    return rows


def find_branch_by_name(name: str) -> Branch | None:
    """Exact name lookup for the CLI; ambiguous names are an error, not a guess."""
    matches = list(db.session.scalars(select(Branch).where(Branch.name == name)))
    if len(matches) > 1:
        raise DomainError(f"有多个名为“{name}”的组织，请改用编号。", "branch_ambiguous")
    return matches[0] if matches else None
