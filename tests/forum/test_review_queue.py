"""The one review queue: who sees which items, decisions (once only), refusals, the page's forms.

Until the forum's own "post" kind exists the queue is driven by a small kind registered
here, whose handlers change a real row (a ModerationRule standing in for a held object)
and notify the author like the real handlers do.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.notifications.models import Notification
from dangxiao.notifications.service import notify
from dangxiao.transactions import atomic
from forum.models import Board, BoardModerator
from forum.moderation import queue
from forum.moderation.models import AuditEntry, ModerationRule, ReviewItem, Silence

URL = "/moderation/queue/"
KIND = "qtest"


def _rule(item: ReviewItem) -> ModerationRule:
    return db.session.get(ModerationRule, item.object_id)


def _approve(actor, item):
    _rule(item).enabled = True


def _reject(actor, item, reason):
    _rule(item).category = "rejected"
    notify(item.author_id, "forum.rejected", f"您的内容未通过审核：{reason}", "/forum/")


def _delete(actor, item, reason):
    _rule(item).category = "deleted"


def _edit(actor, item, text):
    _rule(item).word = text[:100]


HANDLER = queue.KindHandler(
    label="测试条目", approve=_approve, reject=_reject, delete=_delete, edit=_edit, url=lambda item: "/forum/"
)
queue.register_kind(KIND, HANDLER)


@pytest.fixture
def world(app, create_branch, create_user):
    """Boards A and B; branches east/west under one committee; moderators and authors; four items."""
    committee = create_branch("党委", kind="committee")
    east = create_branch("东支部", parent=committee)
    west = create_branch("西支部", parent=committee)
    ids = {
        "mod_a": create_user("mod_a"),  # board moderator of A only: no 版主 role
        "mod_b": create_user("mod_b"),
        "east_mod": create_user("east_mod", roles=[("moderator", east)]),
        "global_mod": create_user("global_mod", roles=["moderator"]),
        "east_author": create_user("east_author", branch=east),
        "west_author": create_user("west_author", branch=west),
        "member": create_user("member", branch=east),
    }
    with app.app_context(), atomic():
        board_a, board_b = Board(name="A版"), Board(name="B版")
        db.session.add_all([board_a, board_b])
        db.session.flush()
        db.session.add_all(
            [
                BoardModerator(board_id=board_a.id, user_id=ids["mod_a"]),
                BoardModerator(board_id=board_b.id, user_id=ids["mod_b"]),
            ]
        )
        items = {}
        for key, board, author, branch, reason in [
            ("a_east", board_a, "east_author", east, "rule"),
            ("a_west", board_a, "west_author", west, "board"),
            ("b_east", board_b, "east_author", east, "flags"),
            ("b_west", board_b, "west_author", west, "rule"),
        ]:
            held = ModerationRule(word=f"held {key}", pattern=f"held {key}", action="review", enabled=False)
            db.session.add(held)
            db.session.flush()
            items[key] = queue.enqueue(
                KIND,
                held.id,
                reason,
                author_id=ids[author],
                branch_id=branch,
                board_id=board.id,
                title=f"标题{key}",
                text=f"<b>{key}</b> 找人刷单",
                matches=[{"rule": "刷单", "action": "review", "start": len(key) + 10, "end": len(key) + 12}],
            ).id
        ids["items"] = items
        ids["boards"] = {"A": board_a.id, "B": board_b.id}
    return ids


def _state(app, item_id: int) -> tuple[str, bool, str, str]:
    with app.app_context():
        item = db.session.get(ReviewItem, item_id)
        rule = db.session.get(ModerationRule, item.object_id)
        return item.state, rule.enabled, rule.category, rule.word


def _listed(client, **query) -> set[str]:
    page = client.get(URL, query_string=query)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    return {key for key in ("a_east", "a_west", "b_east", "b_west") if f"标题{key}" in body}


def test_highlight_escapes_html_and_merges_overlapping_spans():
    text = "<b>代考</b>&刷单ok"
    marked = queue.highlight(text, [{"start": 3, "end": 5}, {"start": 4, "end": 6}, {"start": 10, "end": 12}])
    assert str(marked) == "&lt;b&gt;<mark>代考&lt;</mark>/b&gt;&amp;<mark>刷单</mark>ok"
    # Stale spans are clipped or skipped, never an error; no matches: just escaped text.
    assert (
        str(queue.highlight("a<b", [{"start": 1, "end": 99}, {"start": 5, "end": 9}, {"x": 1}]))
        == "a<mark>&lt;b</mark>"
    )
    assert str(queue.highlight("<i>", [])) == "&lt;i&gt;"


def test_who_sees_what_in_the_queue(app, client, auth, world):
    for user, expected in [
        ("mod_a", {"a_east", "a_west"}),  # board A, every author
        ("east_mod", {"a_east", "b_east"}),  # authors of the east subtree, on every board
        ("global_mod", {"a_east", "a_west", "b_east", "b_west"}),
    ]:
        auth.login(user)
        assert _listed(client) == expected, user
        auth.logout()

    auth.login("global_mod")
    assert _listed(client, board=world["boards"]["B"]) == {"b_east", "b_west"}
    assert _listed(client, reason="rule") == {"a_east", "b_west"}
    assert _listed(client, kind=KIND, reason="flags", board=world["boards"]["B"]) == {"b_east"}
    page = client.get(URL).get_data(as_text=True)
    assert "<mark>刷单</mark>" in page and "&lt;b&gt;a_east&lt;/b&gt;" in page  # highlighted, escaped
    assert "命中敏感词（2）" in page and "测试条目" in page and "east_author" in page
    past = client.get(URL, query_string={"page": "999", "reason": "rule"})  # past the end: the last page
    assert past.status_code == 200 and "标题a_east" in past.get_data(as_text=True)
    assert "没有符合条件" in client.get(URL, query_string={"board": "999999"}).get_data(as_text=True)
    auth.logout()

    auth.login("member")
    assert client.get(URL).status_code == 403
    assert client.post(f"{URL}{world['items']['a_east']}/approve").status_code == 403
    auth.logout()
    anonymous = client.get(URL)
    assert anonymous.status_code == 302 and "/accounts/login" in anonymous.headers["Location"]
    assert _state(app, world["items"]["a_east"])[:2] == ("open", False)

    with app.app_context():
        from dangxiao.accounts.models import User

        mod_a = db.session.scalar(select(User).where(User.username == "mod_a"))
        assert queue.open_count(mod_a) == 2


def test_decisions_from_the_page(app, client, auth, world):
    items = world["items"]
    auth.login("mod_a")
    back = f"{URL}?reason=rule&board={world['boards']['A']}"

    # Out of scope: board B's item refuses with 403 and stays as it was.
    refused = client.post(f"{URL}{items['b_east']}/approve", data={"next": back})
    assert refused.status_code == 403 and "不是该版块" in refused.get_data(as_text=True)
    assert _state(app, items["b_east"]) == ("open", False, "", "held b_east")

    # Approve: back to the filtered page with a message; twice: the second is told, nothing changes.
    done = client.post(f"{URL}{items['a_east']}/approve", data={"next": back})
    assert done.status_code == 302 and done.headers["Location"] == back
    assert "已通过“标题a_east”" in client.get(back).get_data(as_text=True)
    assert _state(app, items["a_east"])[:2] == ("approved", True)
    again = client.post(f"{URL}{items['a_east']}/approve", data={"next": back}, follow_redirects=True)
    assert "该条目已被其他版主处理" in again.get_data(as_text=True)

    # An unsafe next falls back to the queue; a reject without a reason is refused and changes nothing.
    empty = client.post(f"{URL}{items['a_west']}/reject", data={"reason": " \u200b ", "next": "//evil.example/"})
    assert empty.headers["Location"] == URL
    assert "请填写驳回原因" in client.get(URL).get_data(as_text=True)
    assert _state(app, items["a_west"]) == ("open", False, "", "held a_west")
    assert client.post(f"{URL}{items['a_west']}/reject", data={"reason": "违规"}, csrf=False).status_code == 400
    assert _state(app, items["a_west"])[0] == "open"

    client.post(f"{URL}{items['a_west']}/reject", data={"reason": "含有广告"})
    assert _state(app, items["a_west"])[:3] == ("rejected", False, "rejected")
    with app.app_context():
        note = db.session.scalar(select(Notification).where(Notification.user_id == world["west_author"]))
        assert note is not None and "含有广告" in note.text
        item = db.session.get(ReviewItem, items["a_west"])
        assert item.decision_note == "含有广告" and item.decided_by_id == world["mod_a"] and item.decided_at
    auth.logout()

    # Edit-and-approve, delete (reason required), silence the author.
    auth.login("global_mod")
    client.post(f"{URL}{items['b_east']}/edit", data={"text": "改过的文字"})
    assert _state(app, items["b_east"]) == ("approved", True, "", "改过的文字")
    nothing = client.post(f"{URL}{items['b_west']}/delete", data={"reason": ""}, follow_redirects=True)
    assert "请填写删除原因" in nothing.get_data(as_text=True) and _state(app, items["b_west"])[0] == "open"
    bad_days = client.post(f"{URL}{items['b_west']}/silence", data={"days": "5", "reason": "x"}, follow_redirects=True)
    assert "请选择禁言天数" in bad_days.get_data(as_text=True)
    silenced = client.post(f"{URL}{items['b_west']}/silence", data={"days": "7", "reason": "屡次发广告"})
    assert silenced.status_code == 302
    client.post(f"{URL}{items['b_west']}/delete", data={"reason": "广告"})
    assert _state(app, items["b_west"])[:3] == ("deleted", False, "deleted")
    assert client.post(f"{URL}{items['b_west']}/explode").status_code == 404
    assert client.post(f"{URL}999999/approve", follow_redirects=True).status_code == 200

    with app.app_context():
        silence = db.session.scalar(select(Silence).where(Silence.user_id == world["west_author"]))
        assert silence is not None and silence.reason == "屡次发广告"
        logged = db.session.execute(select(AuditEntry.action, AuditEntry.target_id, AuditEntry.reason)).all()
        actions = sorted(a for a, _, _ in logged)
        assert actions == ["approve", "delete", "edit_approve", "reject", "silence"]
        assert ("silence", world["west_author"], "屡次发广告") in logged


def test_services_decide_once_and_enqueue_returns_the_open_item(app, world):
    from dangxiao.accounts.models import User

    items = world["items"]
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        with atomic():
            same = queue.enqueue(KIND, _rule_id(items["a_east"]), "flags", author_id=None, branch_id=None)
            assert same.id == items["a_east"]  # the unique index decided; the transaction goes on
            queue.approve(users["global_mod"], items["a_east"])
        with pytest.raises(DomainError) as err, atomic():
            queue.reject(users["mod_a"], items["a_east"], "太迟了")
        assert err.value.code == "already_decided" and err.value.message == "该条目已被其他版主处理。"
        with pytest.raises(Forbidden), atomic():
            queue.approve(users["mod_b"], items["a_west"])
        with pytest.raises(Forbidden), atomic():
            queue.silence_author(users["mod_b"], items["a_west"], 3, "x")
        assert db.session.scalar(select(func.count(AuditEntry.id))) == 1
        assert queue.open_count(users["mod_b"]) == 2 and queue.open_count(users["member"]) == 0
        assert queue.reason_counts(users["global_mod"]) == {"rule": 1, "board": 1, "flags": 1, "new_user": 0}


def _rule_id(item_id: int) -> int:
    return db.session.get(ReviewItem, item_id).object_id


def test_a_held_reply_is_approved_from_the_queue(app, client, auth, create_user, create_branch):
    """The issue's journey: a reply with a review word written with an evasion trick is held,
    shown highlighted in the queue, approved from the page; published and the author told."""
    from dangxiao.accounts.models import User
    from dangxiao.policy import SYSTEM
    from forum import posting
    from forum.models import Post, PostState
    from forum.moderation import rules

    branch = create_branch("南支部")
    author_id = create_user("poster", branch=branch)
    create_user("boss", roles=["moderator"])
    with app.app_context(), atomic():
        rules.add_rule(SYSTEM, "代考", "review", "forum")
        board = Board(name="学习心得")
        db.session.add(board)
        db.session.flush()
        author = db.session.get(User, author_id)
        topic = posting.create_topic(author, board, "学习党章的体会", "认真学习，逐条对照检查。").topic
        post = posting.reply(author, topic, "有人能帮忙代 考吗？我想了解一下。")
        post_id = post.id
        assert post.state == PostState.held

    auth.login("boss")
    page = client.get(URL).get_data(as_text=True)
    assert "<mark>代 考</mark>" in page and "论坛帖子" in page and "学习心得" in page
    with app.app_context():
        item_id = db.session.scalar(select(ReviewItem.id).where(ReviewItem.object_id == post_id))
    done = client.post(f"{URL}{item_id}/approve", data={"next": URL}, follow_redirects=True)
    assert "已通过" in done.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Post, post_id).state == PostState.published
        notes = db.session.scalars(select(Notification.text).where(Notification.user_id == author_id)).all()
        assert any("已通过审核" in text for text in notes)
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.target_id == post_id)) == "approve"


def test_edit_and_approve_a_held_post_leaves_nothing_open(app, client, auth, create_user):
    from dangxiao.accounts.models import User
    from dangxiao.policy import SYSTEM
    from forum import posting
    from forum.models import Post, PostState
    from forum.moderation import rules

    author_id = create_user("poster")
    create_user("boss", roles=["moderator"])
    with app.app_context(), atomic():
        rules.add_rule(SYSTEM, "代考", "review", "forum")
        board = Board(name="学习心得")
        db.session.add(board)
        db.session.flush()
        author = db.session.get(User, author_id)
        topic = posting.create_topic(author, board, "学习党章的体会", "认真学习，逐条对照检查。").topic
        post_id = posting.reply(author, topic, "有人能帮忙代考吗？我想了解一下。").id
        item_id = db.session.scalar(select(ReviewItem.id).where(ReviewItem.object_id == post_id))
    auth.login("boss")
    client.post(f"{URL}{item_id}/edit", data={"text": "有人能帮忙辅导考试吗？"})
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post.state == PostState.published and post.body == "有人能帮忙辅导考试吗？"
        assert db.session.scalars(select(ReviewItem.state).where(ReviewItem.object_id == post_id)).all() == ["approved"]
