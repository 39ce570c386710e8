"""Demo data that makes a fresh site look alive. Idempotent: finds before it creates."""

from __future__ import annotations

from sqlalchemy import select

from dangxiao.accounts import services
from dangxiao.accounts.models import Branch, BranchKind, Role
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM

DEMO_PASSWORD = "dangxiao2026"  # noqa: S105 — demo data only

# (name, kind, region code, children)
TREE = (
    "中共示范县委组织部机关党委",
    BranchKind.committee,
    "330100",
    [
        (
            "城关镇党总支",
            BranchKind.general_branch,
            "330100001",
            [
                ("城关镇东街村党支部", BranchKind.branch, "330100001001", []),
                ("城关镇西街村党支部", BranchKind.branch, "330100001002", []),
            ],
        ),
        (
            "青山乡党总支",
            BranchKind.general_branch,
            "330100002",
            [
                ("青山乡茶园村党支部", BranchKind.branch, "330100002001", []),
                ("青山乡流动党员党支部", BranchKind.branch, "330100002002", []),
            ],
        ),
        ("县直机关第一党支部", BranchKind.branch, "330100", []),
    ],
)

# (username, display name, branch, roles with scope branch name, flowing region)
ACCOUNTS = [
    ("admin", "系统管理员", "中共示范县委组织部机关党委", [(Role.admin, None)], None),
    ("moderator", "王版主", "县直机关第一党支部", [(Role.member, None), (Role.moderator, None)], None),
    ("secretary", "李书记", "城关镇东街村党支部", [(Role.member, None), (Role.branch_secretary, "城关镇党总支")], None),
    ("zhangsan", "张三", "城关镇东街村党支部", [(Role.member, None)], None),
    ("lisi", "李四", "城关镇西街村党支部", [(Role.member, None)], None),
    ("wangwu", "王五", "青山乡茶园村党支部", [(Role.member, None)], None),
    ("zhaoliu", "赵六", "青山乡流动党员党支部", [(Role.member, None)], "广东省深圳市宝安区"),
    ("sunqi", "孙七", "青山乡流动党员党支部", [(Role.member, None)], "浙江省杭州市余杭区"),
]


def _ensure_branch(name: str, kind: BranchKind, region: str, parent: Branch | None) -> Branch:
    stmt = select(Branch).where(Branch.name == name)
    stmt = stmt.where(Branch.parent_id.is_(None) if parent is None else Branch.parent_id == parent.id)
    branch = db.session.scalar(stmt)
    if branch is None:
        branch = Branch(name=name, kind=kind, region_code=region, parent=parent)
        db.session.add(branch)
        db.session.flush()
    return branch


def seed_demo() -> list[str]:
    """Create what is missing and return the lines to print (the demo logins)."""
    by_name: dict[str, Branch] = {}

    def walk(node, parent):
        name, kind, region, children = node
        by_name[name] = _ensure_branch(name, kind, region, parent)
        for child in children:
            walk(child, by_name[name])

    walk(TREE, None)
    db.session.commit()

    lines = [f"演示账号（密码均为 {DEMO_PASSWORD}）："]
    for username, display, branch_name, roles, region in ACCOUNTS:
        user = services.find_user(username)
        if user is None:
            user = services.create_user(
                SYSTEM,
                services.NewUser(
                    username=username,
                    password=DEMO_PASSWORD,
                    display_name=display,
                    branch_id=by_name[branch_name].id,
                    is_flowing=region is not None,
                    flowing_region=region,
                ),
                roles=[(r, by_name[s].id if s else None) for r, s in roles],
            )
        labels = "、".join(r.label for r in user.roles)
        lines.append(f"  {username:<10} {display}  {labels}")
    db.session.commit()
    return lines
