"""Forum member pages: who sees what (404, never 403), pagination, unread marks, readers,
posting through the forms (held, locked, rate-limited), likes, escaping, queries per page."""

from __future__ import annotations

import re

from sqlalchemy import select

from dangxiao.extensions import db
from forum.models import Approval, Board, BoardModerator, Post, PostLike, PostState, ReadAccess, Topic, TopicKind
from tests.dangxiao.test_page_weight import BUDGET, _weight
from tests.forum.test_reading import count_queries, make_board, make_topic


def _text(response) -> str:
    return response.get_data(as_text=True)


def _flash(response) -> list[str]:
    return re.findall(r'<div class="flash flash-\w+" role="(?:status|alert)"[^>]*>([^<]*)</div>', _text(response))


def test_who_sees_which_board_and_topic(app, client, auth, create_user, create_branch):
    town = create_branch("城关镇党总支", kind="general_branch")
    east = create_branch("东街村党支部", parent=town)
    west = create_branch("西街村党支部", parent=town)
    author = create_user("east1", branch=east)
    create_user("west1", branch=west)
    public = make_board(app, "时政信息", description="学习时政要闻")
    members = make_board(app, "组织建设", ReadAccess.members)
    branch = make_board(app, "东街支部园地", ReadAccess.branch, branch_id=east)
    open_topic = make_topic(app, public, author, "公开的主题")
    members_topic = make_topic(app, members, author, "党员可见的主题")
    branch_topic = make_topic(app, branch, author, "支部内部的主题")

    index = _text(client.get("/forum/"))
    assert "时政信息" in index and "学习时政要闻" in index and "组织建设" not in index
    assert "公开的主题" in _text(client.get(f"/forum/b/{public}"))
    page = client.get(f"/forum/t/{open_topic}")
    assert page.status_code == 200 and "登录</a>后即可回复" in _text(page)
    for path in (f"/forum/t/{members_topic}", f"/forum/b/{branch}", f"/forum/t/{branch_topic}", "/forum/t/999999"):
        assert client.get(path).status_code == 404, path
    assert client.get(f"/forum/b/{public}/new").status_code == 302  # login first

    auth.login("west1")
    assert "党员可见的主题" in _text(client.get(f"/forum/t/{members_topic}"))
    assert "东街支部园地" not in _text(client.get("/forum/"))
    for path in (f"/forum/b/{branch}", f"/forum/t/{branch_topic}", f"/forum/b/{branch}/new"):
        assert client.get(path).status_code == 404, path
    auth.logout()
    auth.login("east1")
    assert "支部内部的主题" in _text(client.get(f"/forum/b/{branch}"))


def test_pagination_unread_marks_readers_and_escaping(app, client, auth, create_user):
    app.config["FORUM_PAGE_SIZE"] = 5
    author = create_user("author", display_name="王老师")
    create_user("reader", display_name="李同志")
    board = make_board(app, "学习心得")
    xss = make_topic(app, board, author, "<script>alert(1)</script>标题", replies=11)

    board_page = _text(client.get(f"/forum/b/{board}"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;标题" in board_page and "<script>alert(1)" not in board_page

    two = _text(client.get(f"/forum/t/{xss}?page=2"))
    assert (
        "第 4 楼的回复" not in two
        and "第 5 楼的回复" in two
        and "第 9 楼的回复" in two
        and 'aria-current="page"' in two
    )
    assert "&lt;script&gt;alert(1)" in two and "<script>alert(1)" not in two
    last = _text(client.get(f"/forum/t/{xss}?page=99"))
    assert "第 11 楼的回复" in last and "第 9 楼的回复" not in last  # past the end: the last page
    assert "开篇：认真学习" in _text(client.get(f"/forum/t/{xss}?page=abc"))

    # Unread: marked (in text) for a member until they open the topic; the board list too.
    auth.login("reader")
    assert re.search(r'<span class="fm-new">新</span>', _text(client.get(f"/forum/b/{board}")))
    assert 'title="有新帖">新' in _text(client.get("/forum/"))
    client.get(f"/forum/t/{xss}?page=3")
    assert 'class="fm-new"' not in _text(client.get(f"/forum/b/{board}"))
    assert 'title="有新帖"' not in _text(client.get("/forum/"))
    auth.logout()

    # Who is reading: the author opening the topic sees the reader who just had it open.
    auth.login("author")
    seen = _text(client.get(f"/forum/t/{xss}"))
    assert "正在浏览：李同志" in seen


def test_names_and_reasons_are_escaped_in_the_posts_block(app, client, auth, create_user, create_branch):
    """The posts are built in Python (forum/views.py): every stored value must come out escaped."""
    branch = create_branch('<img src=x onerror="alert(1)">支部')
    author = create_user("xss_author", branch=branch, display_name="<b onmouseover=alert(1)>王</b>")
    create_user("xss_reader", branch=branch)
    board = make_board(app, "学习心得")
    topic = make_topic(app, board, author, "普通标题", replies=1, reply_author_id=author)
    auth.login("xss_reader")
    page = _text(client.get(f"/forum/t/{topic}"))
    assert "&lt;b onmouseover=alert(1)&gt;王&lt;/b&gt;" in page and "<b onmouseover" not in page
    assert "&lt;img src=x onerror=" in page and "<img src=x" not in page


def test_posting_forms_held_locked_and_rate_limited(app, client, auth, create_user):
    create_user("member", display_name="赵党员")
    mod = create_user("mod")
    board = make_board(app, "组织建设", ReadAccess.members)
    review = make_board(app, "留言板", ReadAccess.members, approval=Approval.all)
    with app.app_context():
        db.session.add(BoardModerator(board_id=board, user_id=mod))
        db.session.commit()
    auth.login("member")

    # New topic: an error keeps what was typed; a valid one lands on the topic.
    form = client.get(f"/forum/b/{board}/new")
    assert form.status_code == 200 and 'for="nt-title"' in _text(form) and "<legend>类型</legend>" in _text(form)
    short = client.post(f"/forum/b/{board}/new", data={"title": "短", "kind": "question", "body": "我想问问组织关系"})
    assert short.status_code == 400 and "标题至少" in _text(short) and "我想问问组织关系</textarea>" in _text(short)
    made = client.post(
        f"/forum/b/{board}/new",
        data={
            "title": "流动党员怎样转接组织关系？",
            "kind": "question",
            "body": "我在外地务工，想问问组织关系怎么转。",
        },
    )
    with app.app_context():
        topic = db.session.scalar(select(Topic).where(Topic.board_id == board))
        topic_id, opener_id = topic.id, topic.first_post_id
        assert topic.kind == TopicKind.question
    assert made.headers["Location"].endswith(f"/forum/t/{topic_id}")

    # Reply through the form; a second in a row is over the new-account limit (429, message shown).
    app.config["FORUM_NEW_REPLIES_PER_MINUTE"] = 2
    replied = client.post(f"/forum/t/{topic_id}/reply", data={"body": "补充：我在广东东莞。"}, follow_redirects=True)
    assert "回复已发布" in " ".join(_flash(replied)) and "补充：我在广东东莞。" in _text(replied)
    limited = client.post(f"/forum/t/{topic_id}/reply", data={"body": "再补充一点情况说明"})
    assert limited.status_code == 429 and "回复过于频繁" in _text(limited)
    assert "再补充一点情况说明</textarea>" in _text(limited)
    app.config["FORUM_NEW_REPLIES_PER_MINUTE"] = 100

    # Quote: ?quote= prefills the box; the JSON variant gives the same text.
    quoted = _text(client.get(f"/forum/t/{topic_id}?quote={opener_id}"))
    assert "&gt; **赵党员** 写道：" in quoted and f'name="reply_to" value="{opener_id}"' in quoted
    assert "写道" in client.get(f"/forum/p/{opener_id}/quote").get_json()["markdown"]

    # On a board that reviews everything: held, said so, shown to the author as 待审核 only.
    held_topic = make_topic(app, review, mod, "留言板使用说明")
    held = client.post(f"/forum/t/{held_topic}/reply", data={"body": "请问几点开会？"}, follow_redirects=True)
    assert "已提交，等待版主审核后显示。" in _flash(held) and "待审核" in _text(held)
    auth.logout()
    create_user("other")
    auth.login("other")
    assert "请问几点开会" not in _text(client.get(f"/forum/t/{held_topic}"))
    auth.logout()

    # The moderator locks the topic: the form goes; a forged post is refused in Chinese and stores nothing.
    auth.login("mod")
    assert 'data-testid="mod-tools"' in _text(client.get(f"/forum/t/{topic_id}"))
    client.post(f"/forum/t/{topic_id}/lock", data={"on": "1"})
    auth.logout()
    auth.login("member")
    page = _text(client.get(f"/forum/t/{topic_id}"))
    assert "主题已锁定，不能回复。" in page and 'data-testid="reply-form"' not in page and "mod-tools" not in page
    forged = client.post(f"/forum/t/{topic_id}/reply", data={"body": "锁了也要回复"})
    assert forged.status_code == 400 and "该主题已锁定，不能回复。" in _text(forged)
    with app.app_context():
        assert db.session.scalar(select(Post).where(Post.body == "锁了也要回复")) is None
    assert client.post(f"/forum/t/{topic_id}/pin", data={"on": "1"}, follow_redirects=True).status_code == 200
    with app.app_context():
        assert db.session.get(Topic, topic_id).pinned is False  # members may not pin


def test_like_flag_and_query_count_of_a_50_post_page(app, client, auth, create_user):
    app.config["FORUM_PAGE_SIZE"] = 50
    author = create_user("author")
    create_user("member")
    board = make_board(app, "学习心得")
    topic_id = make_topic(app, board, author, replies=60)
    with app.app_context():
        post_id = db.session.get(Topic, topic_id).first_post_id + 1
    auth.login("member")

    # Like without JS (redirect back to the post) and with it (JSON); the count follows.
    back = client.post(f"/forum/p/{post_id}/like")
    assert back.status_code == 302 and back.headers["Location"].endswith(f"#p{post_id}")
    data = client.post(f"/forum/p/{post_id}/like", headers={"Accept": "application/json"}).get_json()
    assert data == {"liked": False, "count": 0}
    data = client.post(f"/forum/p/{post_id}/like", headers={"Accept": "application/json"}).get_json()
    assert data == {"liked": True, "count": 1}
    # 举报: its own small page; a missing reason re-renders it with the note kept.
    assert "<legend>举报原因</legend>" in _text(client.get(f"/forum/p/{post_id}/flag"))
    no_reason = client.post(f"/forum/p/{post_id}/flag", data={"note": "像是广告"})
    assert (
        no_reason.status_code == 400 and "请选择举报原因" in _text(no_reason) and 'value="像是广告"' in _text(no_reason)
    )
    flagged = client.post(f"/forum/p/{post_id}/flag", data={"reason": "spam", "note": "广告"}, follow_redirects=True)
    assert "已举报" in " ".join(_flash(flagged))
    assert client.get(f"/forum/p/{post_id}/delete").status_code == 403  # not their post

    client.get(f"/forum/t/{topic_id}")  # warm up: the first request loads templates and the user's session
    with app.app_context(), count_queries() as statements:
        page = client.get(f"/forum/t/{topic_id}")
    html = _text(page)
    assert html.count('class="card fm-post') == 50 and 'aria-pressed="true"' in html
    assert len(statements) <= 10, "\n".join(statements)
    # Read up to here a moment ago: the mark is not rewritten (no write, no commit) on a reload.
    assert not [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))], statements
    total, assets = _weight(client, f"/forum/t/{topic_id}")
    assert any("forum.js" in url for url in assets) and total <= BUDGET, (total, assets)
    with app.app_context():
        assert db.session.scalar(select(PostLike.user_id).where(PostLike.post_id == post_id)) is not None
        assert db.session.get(Board, board).topic_count == 1
        assert {p.state for p in db.session.scalars(select(Post))} == {PostState.published}


def test_edit_accept_subscribe_move_and_delete(app, client, auth, create_user):
    create_user("asker", display_name="提问人")
    create_user("helper", display_name="热心人")
    create_user("mod", roles=["moderator"])
    board = make_board(app, "流动党员之家", ReadAccess.members)
    other_board = make_board(app, "组织建设", ReadAccess.members)
    auth.login("asker")
    client.post(
        f"/forum/b/{board}/new",
        data={"title": "异地怎样参加组织生活？", "kind": "question", "body": "我在外地，怎么参加三会一课？"},
    )
    with app.app_context():
        topic_id, opener = db.session.execute(select(Topic.id, Topic.first_post_id)).one()
    edit = client.get(f"/forum/p/{opener}/edit")
    assert 'for="ed-title"' in _text(edit) and "怎么参加三会一课？</textarea>" in _text(edit)
    bad = client.post(f"/forum/p/{opener}/edit", data={"title": "异地怎样参加组织生活？", "body": " \u200b "})
    assert bad.status_code == 400 and "请填写内容" in _text(bad)
    client.post(
        f"/forum/p/{opener}/edit",
        data={"title": "异地怎样参加组织生活？", "body": "我在东莞打工，怎么参加三会一课？", "reason": "补充地点"},
    )
    assert "已编辑" in _text(client.get(f"/forum/t/{topic_id}"))
    assert "补充地点" in _text(client.get(f"/forum/p/{opener}/revisions"))  # the author sees their history
    on = client.post(f"/forum/t/{topic_id}/subscribe", data={"on": "0"}, follow_redirects=True)
    assert "已取消关注" in " ".join(_flash(on)) and 'data-testid="subscribe">关注<' in _text(on)
    auth.logout()

    auth.login("helper")
    client.post(f"/forum/t/{topic_id}/reply", data={"body": "可以参加流入地党组织的活动。"})
    with app.app_context():
        answer = db.session.scalar(select(Post.id).where(Post.topic_id == topic_id, Post.id != opener))
    mine = _text(client.get(f"/forum/t/{topic_id}"))
    assert "采纳为答案" not in mine
    # Own post: edit and delete; someone else's: like and report instead.
    assert f'href="/forum/p/{answer}/edit"' in mine and f'href="/forum/p/{answer}/delete"' in mine
    assert f'href="/forum/p/{opener}/edit"' not in mine and f'href="/forum/p/{opener}/flag"' in mine
    refused = client.post(f"/forum/p/{answer}/accept", follow_redirects=True)
    assert "只有提问者或版主可以采纳答案" in " ".join(_flash(refused))
    auth.logout()

    auth.login("asker")
    accepted = client.post(f"/forum/p/{answer}/accept", follow_redirects=True)
    assert "已采纳为最佳答案" in " ".join(_flash(accepted)) and 'data-testid="accepted"' in _text(accepted)
    auth.logout()

    # The moderator: revisions, move (with a target list), delete with a required reason.
    auth.login("mod")
    page = _text(client.get(f"/forum/t/{topic_id}"))
    assert 'for="fm-move-board"' in page and "修改记录" in page
    assert all(f'href="/forum/p/{pid}/{act}"' in page for pid in (opener, answer) for act in ("edit", "delete"))
    moved = client.post(f"/forum/t/{topic_id}/move", data={"board_id": other_board}, follow_redirects=True)
    assert "已移动到“组织建设”" in " ".join(_flash(moved))
    no_reason = client.post(f"/forum/p/{answer}/delete", data={"reason": ""})
    assert no_reason.status_code == 400 and 'data-testid="form-error"' in _text(no_reason)
    gone = client.post(f"/forum/p/{answer}/delete", data={"reason": "重复内容"}, follow_redirects=True)
    assert "帖子已删除" in " ".join(_flash(gone)) and "删除原因：重复内容" in _text(gone)
    assert f'href="/forum/p/{answer}/edit"' not in _text(gone)  # deleted: no more edit or delete
    with app.app_context():
        assert db.session.get(Topic, topic_id).board_id == other_board
        assert db.session.get(Post, answer).state == PostState.deleted
