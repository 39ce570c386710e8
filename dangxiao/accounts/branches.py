"""The organisation tree: subtree queries and the rules for changing it."""

from __future__ import annotations

from sqlalchemy import func, select

from dangxiao.accounts.models import Branch, BranchKind, User
from dangxiao.accounts.validation import clean_text, normalise_region_code
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db


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
    up = select(Branch.id, Branch.parent_id).where(Branch.id == branch_id).cte(
        "ancestors", recursive=True
    )
    up = up.union_all(select(Branch.id, Branch.parent_id).where(Branch.id == up.c.parent_id))
    return list(db.session.scalars(select(up.c.id)))


def get_branch(branch_id: int) -> Branch:
    branch = db.session.get(Branch, branch_id)
    if branch is None:
        raise NotFound("组织不存在。")
    return branch


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
    name: str, kind: str | BranchKind, parent_id: int | None = None, region_code: str = ""
) -> Branch:
    name = clean_text(name, "name", "组织名称", 100)
    kind = _parse_kind(kind)
    region_code = normalise_region_code(region_code)
    if parent_id is not None:
        get_branch(parent_id)
    _check_unique_name(name, parent_id, None)
    branch = Branch(name=name, kind=kind, parent_id=parent_id, region_code=region_code)
    db.session.add(branch)
    db.session.commit()
    return branch


def update_branch(
    branch_id: int, name: str, kind: str | BranchKind, parent_id: int | None, region_code: str = ""
) -> Branch:
    """Rename or move a branch; refuses to make a branch its own ancestor."""
    branch = get_branch(branch_id)
    name = clean_text(name, "name", "组织名称", 100)
    kind = _parse_kind(kind)
    region_code = normalise_region_code(region_code)
    if parent_id is not None:
        get_branch(parent_id)
        if parent_id in subtree_ids(branch.id):
            raise DomainError(
                "不能把组织移动到它自己或它的下级组织之下。", "branch_cycle", "parent_id"
            )
    _check_unique_name(name, parent_id, branch.id)
    branch.name, branch.kind, branch.parent_id, branch.region_code = (
        name,
        kind,
        parent_id,
        region_code,
    )
    db.session.commit()
    return branch


def delete_branch(branch_id: int) -> None:
    """Delete an empty leaf; members and sub-branches must be moved away first."""
    branch = get_branch(branch_id)
    members = db.session.scalar(
        select(func.count()).select_from(User).where(User.branch_id == branch.id)
    )
    if members:
        raise DomainError(
            f"“{branch.name}”下还有 {members} 名成员，请先将他们转到其他组织后再删除。",
            "branch_has_members",
        )
    children = db.session.scalar(
        select(func.count()).select_from(Branch).where(Branch.parent_id == branch.id)
    )
    if children:
        raise DomainError(
            f"“{branch.name}”下还有 {children} 个下级组织，请先删除或移走下级组织。",
            "branch_has_children",
        )
    db.session.delete(branch)
    db.session.commit()


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
