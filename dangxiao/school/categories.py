"""Catalogue categories: a tree of names, unique under one parent, ordered by position.

Services take the actor, require "school.manage" and flush; the caller commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.queries import get_or_404
from dangxiao.school.models import Category, Course
from dangxiao.text.clean import clean_line

MANAGE = "school.manage"


def book(title: str) -> str:
    """A title in book-title marks; inner 《》 become 〈〉 as Chinese typesetting wants."""
    return "《" + title.replace("《", "〈").replace("》", "〉") + "》"


def get_category(category_id: int) -> Category:
    return get_or_404(Category, category_id, "分类不存在。")


def category_tree() -> list[tuple[Category, int]]:
    """Every category depth-first with its depth (one query), siblings by position."""
    rows = list(db.session.scalars(select(Category).order_by(Category.position, Category.id)))
    by_parent: dict[int | None, list[Category]] = {}
    for cat in rows:
        by_parent.setdefault(cat.parent_id, []).append(cat)
    out: list[tuple[Category, int]] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for cat in by_parent.get(parent_id, []):
            out.append((cat, depth))
            walk(cat.id, depth + 1)

    walk(None, 0)
    return out


def _subtree_ids(category_id: int) -> set[int]:
    return {c.id for c, _ in _walk_from(category_id)}


def _walk_from(category_id: int) -> list[tuple[Category, int]]:
    tree = category_tree()
    for i, (cat, depth) in enumerate(tree):
        if cat.id == category_id:
            out = [(cat, depth)]
            for other, d in tree[i + 1 :]:
                if d <= depth:
                    break
                out.append((other, d))
            return out
    return []


def _siblings(parent_id: int | None) -> list[Category]:
    stmt = select(Category).order_by(Category.position, Category.id)
    stmt = stmt.where(Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id)
    return list(db.session.scalars(stmt))


def _check_category_name(name: str, parent_id: int | None, exclude_id: int | None) -> None:
    for sibling in _siblings(parent_id):
        if sibling.name == name and sibling.id != exclude_id:
            raise DomainError(f"同一上级分类下已有“{name}”。", "category_duplicate", "name")


def _parent(parent_id: int | None) -> Category | None:
    return get_category(parent_id) if parent_id else None


def create_category(actor: Any, name: str, parent_id: int | None = None) -> Category:
    require(actor, MANAGE)
    name = clean_line(name, "name", "分类名称", 50)
    parent = _parent(parent_id)
    parent_id = parent.id if parent else None
    _check_category_name(name, parent_id, None)
    category = Category(name=name, parent_id=parent_id, position=len(_siblings(parent_id)) + 1)
    db.session.add(category)
    db.session.flush()
    return category


def rename_category(actor: Any, category_id: int, name: str) -> Category:
    require(actor, MANAGE)
    category = get_category(category_id)
    name = clean_line(name, "name", "分类名称", 50)
    _check_category_name(name, category.parent_id, category.id)
    category.name = name
    db.session.flush()
    return category


def move_category(actor: Any, category_id: int, parent_id: int | None) -> Category:
    """Put a category (with its children) under another parent, last among its new siblings."""
    require(actor, MANAGE)
    category = get_category(category_id)
    parent = _parent(parent_id)
    parent_id = parent.id if parent else None
    if parent_id == category.parent_id:
        return category
    if parent_id is not None and parent_id in _subtree_ids(category.id):
        raise DomainError("不能把分类移动到它自己或它的下级分类之下。", "category_cycle", "parent_id")
    _check_category_name(category.name, parent_id, category.id)
    old_parent = category.parent_id
    category.parent_id = parent_id
    category.position = len(_siblings(parent_id)) + 1
    db.session.flush()
    renumber(_siblings(old_parent))
    return category


def renumber(items: list[Any]) -> None:
    """Positions 1..n in list order (categories or lessons)."""
    for position, item in enumerate(items, start=1):
        item.position = position
    db.session.flush()


def swap(items: list[Any], item: Any, direction: str) -> None:
    """Move `item` one place "up" or "down" in `items`, then renumber them all."""
    if direction not in ("up", "down"):
        raise DomainError("移动方向不正确。", "direction_invalid", "direction")
    index = items.index(item)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
    renumber(items)


def reorder_category(actor: Any, category_id: int, direction: str) -> Category:
    """Move a category one place up or down among its siblings (positions become 1..n)."""
    require(actor, MANAGE)
    category = get_category(category_id)
    swap(_siblings(category.parent_id), category, direction)
    return category


def delete_category(actor: Any, category_id: int) -> str:
    """Delete an empty category; one with children or courses is refused, naming them."""
    require(actor, MANAGE)
    category = get_category(category_id)
    children = _siblings(category.id)
    if children:
        names = "、".join(f"“{c.name}”" for c in children[:3])
        raise DomainError(f"分类“{category.name}”下还有子分类 {names}，请先删除或移走子分类。", "category_has_children")
    titles = list(db.session.scalars(select(Course.title).where(Course.category_id == category.id).limit(4)))
    if titles:
        count = db.session.scalar(select(func.count()).select_from(Course).where(Course.category_id == category.id))
        names = "、".join(book(t) for t in titles[:3]) + ("等" if count > 3 else "")
        raise DomainError(
            f"分类“{category.name}”下还有 {count} 门课程（{names}），请先把课程移到其他分类。",
            "category_has_courses",
        )
    name, parent_id = category.name, category.parent_id
    db.session.delete(category)
    db.session.flush()
    renumber(_siblings(parent_id))
    return name
