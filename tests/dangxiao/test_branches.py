"""The organisation tree: subtree queries, moves, cycles, deletion rules."""

from __future__ import annotations

import pytest

from dangxiao.accounts import branches
from dangxiao.accounts.models import Branch
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM


@pytest.fixture
def tree(ctx):
    committee = branches.create_branch(SYSTEM, "县委", "committee", None, "330100")
    town = branches.create_branch(SYSTEM, "城关镇党总支", "general_branch", committee.id)
    east = branches.create_branch(SYSTEM, "东街村党支部", "branch", town.id)
    west = branches.create_branch(SYSTEM, "西街村党支部", "branch", town.id)
    other = branches.create_branch(SYSTEM, "县直第一支部", "branch", committee.id)
    db.session.commit()
    return {"committee": committee.id, "town": town.id, "east": east.id, "west": west.id, "other": other.id}


def test_subtree_contains_the_branch_and_everything_below(tree):
    assert branches.subtree_ids(tree["town"]) == {tree["town"], tree["east"], tree["west"]}
    assert branches.subtree_ids(tree["committee"]) == set(tree.values())
    assert branches.subtree_ids(tree["east"]) == {tree["east"]}


def test_ancestors_run_from_the_branch_to_the_root(tree):
    assert set(branches.ancestor_ids(tree["east"])) == {tree["east"], tree["town"], tree["committee"]}


def test_moving_a_branch_moves_its_subtree(tree):
    town2 = branches.create_branch(SYSTEM, "青山乡党委", "committee", tree["committee"])
    branches.update_branch(SYSTEM, tree["town"], "城关镇党总支", "general_branch", town2.id)
    assert tree["east"] in branches.subtree_ids(town2.id)


@pytest.mark.parametrize(
    ("kind", "parent"),
    [("committee", "town"), ("general_branch", "town"), ("branch", "east"), ("committee", "east")],
)
def test_levels_must_run_top_down(tree, kind, parent):
    """党委 → 党总支 → 党支部: a 党委 under a 党支部 (or a 党总支) is refused, and nothing sits under a 党支部."""
    with pytest.raises(DomainError) as error:
        branches.create_branch(SYSTEM, "新组织", kind, tree[parent])
    assert error.value.code == "branch_level"


def test_relevelling_a_branch_with_children_is_refused(tree):
    with pytest.raises(DomainError, match="不能改为党支部"):
        branches.update_branch(SYSTEM, tree["town"], "城关镇党总支", "branch", tree["committee"])


def test_deleting_a_branch_that_scopes_a_role_is_refused_and_says_whose(tree, create_user):
    create_user("sec1", roles=["member", ("branch_secretary", tree["west"])], display_name="周书记")
    with pytest.raises(DomainError) as error:
        branches.delete_branch(SYSTEM, tree["west"])
    assert error.value.code == "branch_has_role_scopes"
    assert "周书记（支部书记）" in error.value.message
    assert db.session.get(Branch, tree["west"]) is not None


def test_branch_changes_need_the_admin_role(tree, app, create_user):
    from dangxiao.accounts.models import User
    from dangxiao.errors import Forbidden

    member = db.session.get(User, create_user("plain"))
    with pytest.raises(Forbidden):
        branches.create_branch(member, "偷建支部", "branch", tree["town"])
    with pytest.raises(Forbidden):
        branches.delete_branch(member, tree["west"])


def test_branch_cannot_become_its_own_ancestor(tree):
    with pytest.raises(DomainError) as error:
        branches.update_branch(SYSTEM, tree["committee"], "县委", "committee", tree["east"])
    assert error.value.code == "branch_cycle"
    db.session.rollback()
    assert db.session.get(Branch, tree["committee"]).parent_id is None


def test_branch_cannot_be_its_own_parent(tree):
    with pytest.raises(DomainError, match="不能把组织移动到它自己"):
        branches.update_branch(SYSTEM, tree["east"], "东街村党支部", "branch", tree["east"])


def test_deleting_a_branch_with_members_is_refused(tree, create_user):
    create_user("member1", branch=tree["east"])
    with pytest.raises(DomainError) as error:
        branches.delete_branch(SYSTEM, tree["east"])
    assert error.value.code == "branch_has_members"
    assert "1 名成员" in error.value.message
    assert db.session.get(Branch, tree["east"]) is not None


def test_deleting_a_branch_with_children_is_refused(tree):
    with pytest.raises(DomainError, match="下级组织"):
        branches.delete_branch(SYSTEM, tree["town"])


def test_deleting_an_empty_leaf_works(tree):
    branches.delete_branch(SYSTEM, tree["west"])
    assert db.session.get(Branch, tree["west"]) is None


def test_sibling_names_must_be_unique(tree):
    with pytest.raises(DomainError, match="同名"):
        branches.create_branch(SYSTEM, "东街村党支部", "branch", tree["town"])


def test_bad_region_code_and_kind_are_refused(tree):
    with pytest.raises(DomainError, match="行政区划代码"):
        branches.create_branch(SYSTEM, "新支部", "branch", tree["town"], "12ab")
    with pytest.raises(DomainError, match="组织类型"):
        branches.create_branch(SYSTEM, "新支部", "club", tree["town"])


def test_tree_rows_are_depth_first(tree):
    rows = [(b.name, depth) for b, depth in branches.tree_rows()]
    assert rows[0] == ("县委", 0)
    assert rows.index(("东街村党支部", 2)) == rows.index(("城关镇党总支", 1)) + 1
