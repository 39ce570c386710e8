"""Board administration: admins create and edit boards and their moderators; members are refused;
bad settings are told in Chinese and change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dangxiao.accounts.models import User
from dangxiao.extensions import db
from forum.models import Board, BoardModerator
from forum.moderation.models import AuditEntry

URL = "/admin/forum/boards/"


def _boards(app) -> dict[str, dict]:
    with app.app_context():
        out = {}
        for b in db.session.scalars(select(Board)):
            mods = {(m.user.username, m.scope_branch_id) for m in b.moderators}
            out[b.name] = {
                "read": b.read_access.value,
                "post": b.post_access.value,
                "branch": b.branch_id,
                "approval": b.approval.value,
                "threshold": b.flag_threshold,
                "window": b.edit_window_minutes,
                "archived": b.archived,
                "mods": mods,
                "id": b.id,
            }
        return out


def _table(client) -> str:
    page = client.get(URL).get_data(as_text=True)
    return page[page.index('data-testid="boards"') :]


def _form(**over) -> dict:
    data = {
        "name": "学习心得",
        "description": "交流学习体会",
        "position": "",
        "read_access": "members",
        "post_access": "members",
        "branch_id": "0",
        "approval": "none",
        "flag_threshold": "3",
        "edit_window_minutes": "60",
        "moderators": "",
    }
    data.update(over)
    return data


def test_admin_creates_edits_archives_and_orders_boards(app, client, auth, create_user, create_branch):
    branch = create_branch("东街村党支部")
    create_user("boss", roles=["admin"])
    create_user("mod")
    create_user("scoped")
    auth.login("boss")
    assert "新建版块" in client.get(URL).get_data(as_text=True)
    assert client.get(URL + "new").status_code == 200

    saved = client.post(URL + "new", data=_form(moderators="mod\n\nscoped 东街村党支部\n"), follow_redirects=True)
    assert "已保存版块“学习心得”" in saved.get_data(as_text=True)
    board = _boards(app)["学习心得"]
    assert board["mods"] == {("mod", None), ("scoped", branch)} and board["read"] == "members"

    edit = client.get(f"{URL}{board['id']}").get_data(as_text=True)
    assert "scoped 东街村党支部" in edit and 'value="学习心得"' in edit
    changed = _form(
        name="支部园地",
        read_access="branch",
        post_access="branch",
        branch_id=str(branch),
        approval="topics",
        flag_threshold="5",
        edit_window_minutes="0",
        moderators="mod",
        position="1",
    )
    assert client.post(f"{URL}{board['id']}", data=changed).status_code == 302
    after = _boards(app)["支部园地"]
    assert after == dict(
        board,
        read="branch",
        post="branch",
        branch=branch,
        approval="topics",
        threshold=5,
        window=0,
        mods={("mod", None)},
    )

    client.post(URL + "new", data=_form(name="留言板", read_access="public"))
    listing = _table(client)
    assert listing.index("支部园地") < listing.index("留言板") and "所有访客" in listing and "东街村党支部" in listing
    client.post(f"{URL}{board['id']}/move", data={"direction": "down"})
    listing = _table(client)
    assert listing.index("留言板") < listing.index("支部园地")

    client.post(f"{URL}{board['id']}/archive", data={"archived": "1"})
    client.post(f"{URL}{board['id']}/archive", data={"archived": "1"})  # resubmitted: nothing more
    assert _boards(app)["支部园地"]["archived"] is True
    with app.app_context():
        summaries = list(
            db.session.scalars(
                select(AuditEntry.summary).where(AuditEntry.board_id == board["id"]).order_by(AuditEntry.id)
            )
        )
        actions = set(db.session.scalars(select(AuditEntry.action)))
    assert actions == {"board_update"}
    assert summaries[0] == "新建版块“学习心得”" and summaries.count("归档版块“支部园地”") == 1
    assert any("审核方式：新主题需审核" in s for s in summaries)


BAD = [
    ({"name": " \u200b "}, "请填写版块名称"),
    ({"name": "甲"}, "版块名称至少 2 个字符"),
    ({"name": "时政信息"}, "已有名为“时政信息”的版块"),
    ({"read_access": "branch"}, "请选择指定组织"),
    ({"post_access": "branch", "branch_id": "99999"}, "指定的组织不存在"),
    ({"moderators": "nobody"}, "找不到用户“nobody”"),
    ({"moderators": "gone"}, "用户“gone”的账号未启用"),
    ({"moderators": "mod 不存在的支部"}, "找不到组织“不存在的支部”"),
    ({"flag_threshold": "0"}, "举报隐藏阈值必须在 1 到 50 之间"),
    ({"flag_threshold": "三"}, "举报隐藏阈值必须是整数"),
    ({"edit_window_minutes": "10081"}, "作者可编辑时限（分钟）必须在 0 到 10080 之间"),
    ({"approval": "sometimes"}, "未知的审核方式"),
    ({"description": "长" * 301}, "版块简介不能超过 300 个字符"),
]


def test_bad_settings_are_refused_and_change_nothing(app, client, auth, create_user):
    create_user("boss", roles=["admin"])
    create_user("mod")
    create_user("gone", status="disabled")
    auth.login("boss")
    client.post(URL + "new", data=_form(name="时政信息", moderators="mod"))
    before = _boards(app)
    board_id = before["时政信息"]["id"]
    for over, message in BAD:
        created = client.post(URL + "new", data=_form(**{"name": "新版块", **over}))
        assert created.status_code == 400 and message in created.get_data(as_text=True), over
        if over.get("name") != "时政信息":  # renaming a board to its own name is fine
            edited = client.post(f"{URL}{board_id}", data=_form(**{"name": "时政信息", "position": "1", **over}))
            assert edited.status_code == 400 and message in edited.get_data(as_text=True), over
    assert _boards(app) == before


def test_members_and_moderators_may_not_manage_boards(app, client, auth, create_user):
    from dangxiao.errors import Forbidden
    from dangxiao.transactions import atomic
    from forum import board_admin

    create_user("boss", roles=["admin"])
    create_user("member")
    create_user("mod", roles=["member", "moderator"])
    auth.login("boss")
    client.post(URL + "new", data=_form())
    board_id = _boards(app)["学习心得"]["id"]
    client.post("/accounts/logout")
    for username in ("member", "mod"):
        auth.login(username)
        assert client.get(URL).status_code == 403
        assert client.post(URL + "new", data=_form(name="另一个版块")).status_code == 403
        assert client.post(f"{URL}{board_id}/archive", data={"archived": "1"}).status_code == 403
        client.post("/accounts/logout")
    with app.app_context():
        member = db.session.scalar(select(User).where(User.username == "member"))
        with pytest.raises(Forbidden), atomic():
            board_admin.create_board(member, name="偷偷建的版块")
        with pytest.raises(Forbidden), atomic():
            board_admin.set_moderators(member, board_id, [(member.id, None)])
    assert set(_boards(app)) == {"学习心得"} and _boards(app)["学习心得"]["archived"] is False
    with app.app_context():
        assert db.session.scalar(select(BoardModerator.id)) is None
