"""Posting on SQLite and PostgreSQL: sanitising, limits, the keyword engine, holds, counters, notifications."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from dangxiao.accounts.models import User
from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.notifications.models import Notification
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from forum import posting
from forum.models import Approval, Board, BoardModerator, Post, PostAccess, PostRevision, PostState, ReadAccess, Topic
from forum.moderation import rules
from forum.moderation.models import AuditEntry, ReviewItem
from forum.moderation.queue import handler_for
from forum.moderation.silence import silence

# --- helpers shared by the forum service tests (imported by test_reactions / test_topic_admin) ---------


def get(model, ident):
    return db.session.get(model, ident)


def make_board(name: str, **fields) -> int:
    with atomic():
        board = Board(name=name, **fields)
        db.session.add(board)
        db.session.flush()
        return board.id


def add_board_moderator(board_id: int, user_id: int) -> None:
    with atomic():
        db.session.add(BoardModerator(board_id=board_id, user_id=user_id))


def topic_by(
    user_id: int, board_id: int, title: str = "学习心得交流", body: str = "第一次发帖，请多指教。", **kw
) -> Post:
    with atomic():
        post = posting.create_topic(get(User, user_id), get(Board, board_id), title, body, **kw)
        return post


def reply_by(user_id: int, topic_id: int, body: str, **kw) -> Post:
    with atomic():
        return posting.reply(get(User, user_id), get(Topic, topic_id), body, **kw)


def notes(user_id: int) -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(Notification.kind, Notification.text).where(Notification.user_id == user_id).order_by(Notification.id)
    )
    return [tuple(r) for r in rows]


def note(kind: str, text: str) -> tuple[str, str]:
    """A notification as stored (full-width punctuation kept as written)."""
    return kind, text


def counts(topic_id: int, board_id: int) -> tuple[int, int, int]:
    db.session.expire_all()
    topic, board = get(Topic, topic_id), get(Board, board_id)
    return topic.reply_count, board.topic_count, board.post_count


def refused(code: str, fn, *args, **kw) -> DomainError:
    with pytest.raises(DomainError) as caught, atomic():
        fn(*args, **kw)
    assert caught.value.code == code, caught.value.message
    return caught.value


@pytest.fixture
def world(ctx, create_user, create_branch):
    """Two branches, members, a board moderator, a moderator of another board, four boards."""
    ctx.config["FORUM_NEW_ACCOUNT_DAYS"] = 0  # everyone counts as an established member unless a test says so
    a = create_branch("第一支部")
    b = create_branch("第二支部")
    w = SimpleNamespace(
        author=create_user("author", branch=a, display_name="老党员"),
        other=create_user("other", branch=a, display_name="小王"),
        zhang=create_user("张三", branch=a, display_name="张三"),
        outsider=create_user("outsider", branch=b),
        mod=create_user("boardmod", branch=a),
        othermod=create_user("othermod", branch=a),
        branch_a=a,
    )
    w.board = make_board("学习心得", edit_window_minutes=60)
    w.other_board = make_board("时政信息")
    w.branch_board = make_board("第一支部园地", read_access=ReadAccess.branch, branch_id=a)
    w.announce = make_board("通知公告", post_access=PostAccess.moderators)
    add_board_moderator(w.board, w.mod)
    add_board_moderator(w.other_board, w.othermod)
    return w


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "img", "iframe", "object", "style"}:
            self.bad.append(tag)
        for name, value in attrs:
            v = (value or "").strip().lower()
            if name.startswith("on") or v.startswith(("javascript:", "data:", "vbscript:")):
                self.bad.append(f"{tag} {name}={value}")


# --- tests ----------------------------------------------------------------------------------------


def test_markup_is_stored_sanitised_and_empty_or_huge_posts_refused(world):
    body = (
        "<script>alert(1)</script>\n\n[点我](javascript:alert(1)) [再点](JaVaScRiPt:alert(2))\n\n"
        "![图](data:image/png;base64,iVBORw0KGgo=) <img src=x onerror=alert(1)>\n\n"
        "@<img src=x onerror=alert(1)> <a href='javascript:alert(3)' onclick=x>链接</a> **加粗**"
    )
    post = topic_by(world.author, world.board, body=body)
    stored = get(Post, post.id)
    assert stored.body == body and "<strong>加粗</strong>" in stored.body_html
    parser = _Tags()
    parser.feed(stored.body_html)
    assert parser.bad == []
    assert "<script" not in stored.body_html and "data:image" not in stored.body_html

    me, topic = get(User, world.author), get(Topic, post.topic_id)
    for blank in (" \n\t\u3000 ", "\u200b\u200c\u200d\u2060\ufeff", "\u200b \u200b\n\u202e"):
        refused("too_short", posting.reply, me, topic, blank)
    refused("title_too_short", posting.create_topic, me, get(Board, world.board), "\u200b 标 \u200b", "正文内容")
    refused("title_too_long", posting.create_topic, me, get(Board, world.board), "长" * 61, "正文内容")
    for huge in ("字" * 34_000, "a" * 100_000, "字" * 10_001):  # ≈100 KB of Chinese, 100 KB of ASCII, one over
        refused("too_long", posting.reply, me, topic, huge)
    assert db.session.scalar(select(func.count()).select_from(Post)) == 1
    refused("kind_invalid", posting.create_topic, me, get(Board, world.board), "提问一下子", "内容内容", kind="poll")


def test_keyword_engine_blocks_evasions_holds_review_words_and_censors(world):
    with atomic():
        rules.add_rule(SYSTEM, "刷单", "block", scope="forum")
        rules.add_rule(SYSTEM, "代考", "review")
        rules.add_rule(SYSTEM, "vpn", "block")
        rules.add_rule(SYSTEM, "傻瓜", "censor")
    opener = topic_by(world.author, world.board)
    me, topic = get(User, world.other), get(Topic, opener.topic_id)
    for evasion in ("找人刷單赚钱", "找人刷\u200b单", "找人刷 单", "找人 刷.单", "卖ＶＰＮ账号", "卖 V P N 账号"):
        error = refused("blocked", posting.reply, me, topic, evasion)
        assert "刷单" in error.message or "vpn" in error.message
    error = refused("blocked", posting.create_topic, me, get(Board, world.board), "刷单标题", "还有代 考")
    assert "内容含有不允许发布的词语：刷单" in error.message

    held = reply_by(world.other, topic.id, "有人能\u200b帮我代 考吗？")  # zero-width dropped, the space evades
    assert held.state == PostState.held
    item = db.session.scalar(select(ReviewItem).where(ReviewItem.object_id == held.id))
    assert (item.kind, item.reason, item.board_id) == ("post", "rule", world.board)
    [match] = item.matches
    assert item.text[match["start"] : match["end"]] == "代 考" == match["text"]
    assert counts(topic.id, world.board) == (0, 1, 1)

    held_topic = topic_by(world.other, world.board, "求代考服务", "正文正常")
    item = db.session.scalar(select(ReviewItem).where(ReviewItem.object_id == held_topic.id))
    assert item.text == "求代考服务\n正文正常" and item.text[item.matches[0]["start"] :].startswith("代考")
    assert get(Topic, held_topic.topic_id).state == PostState.held and counts(topic.id, world.board)[1:] == (1, 1)

    censored = reply_by(world.other, topic.id, "你这个傻 瓜，说得不对")
    assert censored.state == PostState.published and censored.body == "你这个＊＊＊，说得不对"


def test_refusals_for_access_locks_and_other_peoples_posts(world, create_user):
    opener = topic_by(world.author, world.board)
    topic_id = opener.topic_id
    outsider, other = get(User, world.outsider), get(User, world.other)
    # A board the member may not read, one they may read but not post in.
    refused("forbidden", posting.create_topic, outsider, get(Board, world.branch_board), "支部内部讨论", "内容内容")
    branch_topic = topic_by(world.author, world.branch_board, body="支部内部的主题")
    refused("forbidden", posting.reply, outsider, get(Topic, branch_topic.topic_id), "我也来说两句")
    refused("forbidden", posting.create_topic, other, get(Board, world.announce), "我来发公告", "内容内容")
    # Locked: members refused, the board's moderator may still reply.
    with atomic():
        get(Topic, topic_id).locked = True
    refused("topic_locked", posting.reply, other, get(Topic, topic_id), "锁了还能回复吗")
    assert reply_by(world.mod, topic_id, "版主补充说明一下").state == PostState.published
    # Someone else's post, the edit window, a moderator of another board.
    post_id = opener.id
    refused("forbidden", posting.edit_post, other, get(Post, post_id), "改成我的话")
    refused("forbidden", posting.delete_post, other, get(Post, post_id), "删掉")
    refused("forbidden", posting.edit_post, get(User, world.othermod), get(Post, post_id), "越权编辑")
    refused("forbidden", posting.delete_post, get(User, world.othermod), get(Post, post_id), "越权删除")
    assert not posting.may_edit(other, get(Post, post_id)) and posting.may_edit(
        get(User, world.author), get(Post, post_id)
    )
    with atomic():
        db.session.execute(update(Post).where(Post.id == post_id).values(created_at=utcnow() - timedelta(minutes=61)))
    error = refused("edit_window_closed", posting.edit_post, get(User, world.author), get(Post, post_id), "晚了再改")
    assert "60 分钟" in error.message and isinstance(error, Forbidden)
    # The board moderator may edit any time: revision kept, audited, author told.
    with atomic():
        posting.edit_post(
            get(User, world.mod), get(Post, post_id), "版主修改后的内容", title="新的标题文字", reason="更正错别字"
        )
    revision = db.session.scalar(select(PostRevision).where(PostRevision.post_id == post_id))
    assert (revision.title, revision.body, revision.editor_id) == ("学习心得交流", "第一次发帖，请多指教。", world.mod)
    post = get(Post, post_id)
    assert (post.body, post.topic.title, post.edit_count) == ("版主修改后的内容", "新的标题文字", 1)
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.target_id == post_id)) == "edit"
    assert note("forum_moderation", "版主编辑了您在《新的标题文字》中的帖子，说明：更正错别字") in notes(world.author)
    # A held topic cannot be replied to; a moderator must give a reason to delete.
    with atomic():
        get(Board, world.board).approval = Approval.topics
    held = topic_by(world.other, world.board, "等待审核的主题", "内容内容内容")
    refused("topic_not_open", posting.reply, get(User, world.author), get(Topic, held.topic_id), "抢先回复")
    refused("reason_empty", posting.delete_post, get(User, world.mod), get(Post, post_id), " ")


def test_duplicates_rate_limits_and_silences(ctx, world):
    opener = topic_by(world.author, world.board)
    topic_id = opener.topic_id
    reply_by(world.other, topic_id, "我也这么认为，Good Point！")
    error = refused("duplicate", reply_by, world.other, topic_id, "我也这么认为， ｇｏｏｄ　ｐｏｉｎｔ!")
    assert error.message == "同样的内容您刚刚已经发过了"
    # Established member: 6 a minute (one used above); a new account: 2 a minute, 3 topics an hour.
    for n in range(5):
        reply_by(world.other, topic_id, f"第 {n} 条补充意见")
    error = refused("rate_limited", reply_by, world.other, topic_id, "第七条")
    assert error.status == 429 and "6" in error.message
    ctx.config["FORUM_NEW_ACCOUNT_DAYS"] = 3
    reply_by(world.zhang, topic_id, "新人报到一")
    reply_by(world.zhang, topic_id, "新人报到二")
    error = refused("rate_limited", reply_by, world.zhang, topic_id, "新人报到三")
    assert "新注册用户" in error.message and "2" in error.message
    for n in range(3):
        topic_by(world.outsider, world.board, f"新人的主题{n}号", f"正文{n}")
    refused("rate_limited", topic_by, world.outsider, world.board, "新人的主题三号", "正文三")
    # A new account's link waits for a moderator; moderators' own posts never do.
    held = reply_by(world.mod, topic_id, "参考 http://example.com/a")
    assert held.state == PostState.published
    with atomic():
        db.session.execute(update(User).where(User.id == world.author).values(created_at=utcnow()))
    held = reply_by(world.author, topic_id, "请看 www.example.com 的说明")
    assert held.state == PostState.held
    assert db.session.scalar(select(ReviewItem.reason).where(ReviewItem.object_id == held.id)) == "new_user"
    with atomic():
        silence(get(User, world.mod), world.other, 3, "发布无关内容")
    error = refused("silenced", reply_by, world.other, topic_id, "我被禁言了吗")
    assert "之前不能发帖" in error.message


def test_counters_follow_publish_hold_approve_reject_and_delete(world):
    with atomic():
        get(Board, world.board).approval = Approval.all
    opener = topic_by(world.author, world.board)
    topic_id = opener.topic_id
    assert opener.state == PostState.held and counts(topic_id, world.board) == (0, 0, 0)
    handler = handler_for("post")

    def decide(post_id: int, action: str, *args):
        item = db.session.scalar(select(ReviewItem).where(ReviewItem.object_id == post_id, ReviewItem.state == "open"))
        with atomic():
            item.state = {"approve": "approved", "reject": "rejected", "delete": "deleted", "edit": "approved"}[action]
            getattr(handler, action)(get(User, world.mod), item, *args)
            if action == "edit":  # as queue.edit_and_approve does
                handler.approve(get(User, world.mod), item)

    refused("forbidden", handler.approve, get(User, world.othermod), db.session.scalar(select(ReviewItem)))
    decide(opener.id, "approve")
    assert get(Topic, topic_id).state == PostState.published and counts(topic_id, world.board) == (0, 1, 1)
    assert note("forum_moderation", "您在《学习心得交流》中的帖子已通过审核。") in notes(world.author)

    mod_reply = reply_by(world.mod, topic_id, "版主的回复不需要审核")
    first = reply_by(world.other, topic_id, "第一条回复内容")
    second = reply_by(world.other, topic_id, "第二条回复内容")
    assert (mod_reply.state, first.state) == (PostState.published, PostState.held)
    assert counts(topic_id, world.board) == (1, 1, 2)
    decide(first.id, "approve")
    decide(second.id, "edit", "第二条回复（版主修改）")
    assert get(Post, second.id).body == "第二条回复（版主修改）" and get(Post, second.id).edit_count == 1
    assert counts(topic_id, world.board) == (3, 1, 4) and get(Topic, topic_id).last_post_id == second.id
    third = reply_by(world.other, topic_id, "第三条回复内容")
    decide(third.id, "reject", "与主题无关")
    assert get(Post, third.id).state == PostState.rejected and counts(topic_id, world.board) == (3, 1, 4)
    assert note("forum_moderation", "您在《学习心得交流》中的帖子未通过审核，原因：与主题无关") in notes(world.other)

    with atomic():  # the author deletes their latest reply: the previous one becomes the last post
        posting.delete_post(get(User, world.other), get(Post, second.id), "")
    topic = get(Topic, topic_id)
    assert counts(topic_id, world.board) == (2, 1, 3) and (topic.last_post_id, topic.last_author_id) == (
        first.id,
        world.other,
    )
    assert get(Post, second.id).deleted_reason == "作者自行删除"
    refused("already_deleted", posting.delete_post, get(User, world.other), get(Post, second.id), "")
    with atomic():  # a moderator deletes the opening post: the topic goes, the board counts drop to zero
        posting.delete_post(get(User, world.mod), get(Post, opener.id), "重复主题")
    assert get(Topic, topic_id).state == PostState.deleted and counts(topic_id, world.board)[1:] == (0, 0)
    assert db.session.scalar(select(AuditEntry.reason).where(AuditEntry.action == "delete")) == "重复主题"
    assert note("forum_moderation", "您在《学习心得交流》中的主题已被版主删除，原因：重复主题") in notes(world.author)


def test_edit_keeps_revisions_and_a_review_word_holds_again(world):
    with atomic():
        rules.add_rule(SYSTEM, "代考", "review")
    opener = topic_by(world.author, world.board)
    reply = reply_by(world.other, opener.topic_id, "原来的回复")
    assert counts(opener.topic_id, world.board) == (1, 1, 2)
    with atomic():
        posting.edit_post(get(User, world.other), get(Post, reply.id), "改过一次的回复", reason="补充")
    with atomic():
        posting.edit_post(get(User, world.other), get(Post, reply.id), "改成找人代考")
    post = get(Post, reply.id)
    assert post.state == PostState.held and post.edit_count == 2
    assert [r.body for r in db.session.scalars(select(PostRevision).order_by(PostRevision.id))] == [
        "原来的回复",
        "改过一次的回复",
    ]
    assert counts(opener.topic_id, world.board) == (0, 1, 1)
    item = db.session.scalar(select(ReviewItem).where(ReviewItem.object_id == reply.id))
    assert (item.reason, item.text, item.matches[0]["text"]) == ("rule", "改成找人代考", "代考")
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.target_kind == "post")) == 0
    )  # authors' own edits are not audited


def test_reply_and_mention_notifications(world, create_user):
    opener = topic_by(world.author, world.board, body="欢迎 @张三 和 @outsider 来讨论")
    assert notes(world.zhang) == [note("forum_mention", "老党员 在《学习心得交流》中提到了您")]
    branch_post = topic_by(world.author, world.branch_board, body="@outsider 你看不到这里，@张三你好")
    assert notes(world.outsider) == [note("forum_mention", "老党员 在《学习心得交流》中提到了您")]  # only the first
    assert len(notes(world.zhang)) == 2  # "@张三你好": the longest username prefix
    del branch_post

    reply_by(world.other, opener.topic_id, "回复一下 @other @张三 @不存在的人")
    assert notes(world.author) == [note("forum_reply", "小王 回复了主题《学习心得交流》")]
    assert notes(world.other) == []  # no notification for one's own reply or self-mention
    assert notes(world.zhang)[-1] == note("forum_mention", "小王 在《学习心得交流》中提到了您")

    with atomic():
        get(Board, world.board).approval = Approval.all
    held = reply_by(world.zhang, opener.topic_id, "需要审核的回复")
    assert len(notes(world.author)) == 1  # held: nobody told yet
    item = db.session.scalar(select(ReviewItem).where(ReviewItem.object_id == held.id))
    with atomic():
        item.state = "approved"
        handler_for("post").approve(get(User, world.mod), item)
    assert notes(world.author)[-1] == note("forum_reply", "张三 回复了主题《学习心得交流》")
    assert notes(world.zhang)[-1] == note("forum_moderation", "您在《学习心得交流》中的帖子已通过审核。")


def test_quote_and_post_url(ctx, world):
    ctx.config["FORUM_PAGE_SIZE"] = 2
    opener = topic_by(world.author, world.board, body="第一行\n\n第二行")
    replies = [reply_by(world.other, opener.topic_id, f"回复第{n}条") for n in range(3)]
    assert posting.quote_markdown(get(Post, opener.id)) == "> **老党员** 写道：\n> 第一行\n>\n> 第二行\n\n"
    tid = opener.topic_id
    assert posting.post_url(get(Post, opener.id)) == f"/forum/t/{tid}?page=1#p{opener.id}"
    assert posting.post_url(get(Post, replies[0].id)) == f"/forum/t/{tid}?page=1#p{replies[0].id}"
    assert posting.post_url(get(Post, replies[2].id)) == f"/forum/t/{tid}?page=2#p{replies[2].id}"
