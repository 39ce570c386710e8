"""The organisation tree: subtree queries, moves, cycles, deletion rules."""

from __future__ import annotations

import pytest

from dangxiao.accounts import branches
from dangxiao.accounts.models import Branch
from dangxiao.errors import DomainError
from dangxiao.extensions import db


@pytest.fixture
def tree(ctx):
    committee = branches.create_branch("县委", "committee", None, "330100")
    town = branches.create_branch("城关镇党总支", "general_branch", committee.id)
    east = branches.create_branch("东街村党支部", "branch", town.id)
    west = branches.create_branch("西街村党支部", "branch", town.id)
    other = branches.create_branch("县直第一支部", "branch", committee.id)
    return {"committee": committee.id, "town": town.id, "east": east.id, "west": west.id, "other": other.id}


def test_subtree_contains_the_branch_and_everything_below(tree):
    assert branches.subtree_ids(tree["town"]) == {tree["town"], tree["east"], tree["west"]}
    assert branches.subtree_ids(tree["committee"]) == set(tree.values())
    assert branches.subtree_ids(tree["east"]) == {tree["east"]}


def test_ancestors_run_from_the_branch_to_the_root(tree):
    assert set(branches.ancestor_ids(tree["east"])) == {tree["east"], tree["town"], tree["committee"]}


def test_moving_a_branch_moves_its_subtree(tree):
    branches.update_branch(tree["town"], "城关镇党总支", "general_branch", tree["other"])
    assert tree["east"] in branches.subtree_ids(tree["other"])


def test_branch_cannot_become_its_own_ancestor(tree):
    with pytest.raises(DomainError) as error:
        branches.update_branch(tree["committee"], "县委", "committee", tree["east"])
    assert error.value.code == "branch_cycle"
    db.session.rollback()
    assert db.session.get(Branch, tree["committee"]).parent_id is None


def test_branch_cannot_be_its_own_parent(tree):
    with pytest.raises(DomainError, match="不能把组织移动到它自己"):
        branches.update_branch(tree["east"], "东街村党支部", "branch", tree["east"])


def test_deleting_a_branch_with_members_is_refused(tree, create_user):
    create_user("member1", branch=tree["east"])
    with pytest.raises(DomainError) as error:
        branches.delete_branch(tree["east"])
    assert error.value.code == "branch_has_members"
    assert "1 名成员" in error.value.message
    assert db.session.get(Branch, tree["east"]) is not None


def test_deleting_a_branch_with_children_is_refused(tree):
    with pytest.raises(DomainError, match="下级组织"):
        branches.delete_branch(tree["town"])


def test_deleting_an_empty_leaf_works(tree):
    branches.delete_branch(tree["west"])
    assert db.session.get(Branch, tree["west"]) is None


def test_sibling_names_must_be_unique(tree):
    with pytest.raises(DomainError, match="同名"):
        branches.create_branch("东街村党支部", "branch", tree["town"])


def test_bad_region_code_and_kind_are_refused(tree):
    with pytest.raises(DomainError, match="行政区划代码"):
        branches.create_branch("新支部", "branch", tree["town"], "12ab")
    with pytest.raises(DomainError, match="组织类型"):
        branches.create_branch("新支部", "club", tree["town"])


def test_tree_rows_are_depth_first(tree):
    rows = [(b.name, depth) for b, depth in branches.tree_rows()]
    assert rows[0] == ("县委", 0)
    assert rows.index(("东街村党支部", 2)) == rows.index(("城关镇党总支", 1)) + 1
