"""党建论坛 pages members use: boards, topic lists, topic pages, posting forms, post actions.

Views translate requests into :mod:`forum.reading` (what may be seen) and the posting
services (:mod:`forum.posting`, :mod:`forum.reactions`, :mod:`forum.topic_admin`, which
decide what may be done). A board, topic or post the visitor may not read is a 404 whatever
the reason. A refused action is told as a flash message (forms re-render with the typed
text kept); JSON callers (the like button's script) get the usual JSON error. Every page
works without JavaScript; static/js/forum.js only saves reloads.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from dangxiao.access import LOGIN, PUBLIC
from dangxiao.errors import DomainError, Forbidden, wants_json
from dangxiao.extensions import db
from dangxiao.queries import MAX_ID, id_arg
from dangxiao.templating import localtime
from dangxiao.transactions import atomic
from forum import post_block, posting, reactions, reading, topic_admin
from forum.boards import may_post, moderates_any_board, readable_boards_stmt
from forum.models import FlagReason, Post, PostState, Topic, TopicKind
from forum.moderation.silence import silenced_until

bp = Blueprint("forum", __name__, url_prefix="/forum")
ACCESS = {
    **{view: PUBLIC for view in ("index", "board", "topic", "post")},
    **{
        view: LOGIN
        for view in (
            "new_topic",
            "reply",
            "quote",
            "edit",
            "delete",
            "like",
            "flag",
            "accept",
            "subscribe",
            "pin",
            "lock",
            "move",
            "revisions",
        )
    },
}

HELD_MESSAGE = "已提交，等待版主审核后显示。"
MARKDOWN_HINT = "支持 Markdown：**粗体**、> 引用、- 列表、[链接文字](https://…)；输入 @用户名 可提醒对方。"


def _page_arg() -> int | None:
    return id_arg(request.args.get("page"))


def page_window(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Page numbers to link: first, last and a few around the current one; None marks a gap."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out


def _render(template: str, status: int = 200, **context: Any):
    return render_template(template, page_window=page_window, markdown_hint=MARKDOWN_HINT, **context), status


def _actor() -> Any:
    """The user object itself: the topic page asks dozens of questions of it, and each one
    through the ``current_user`` proxy costs a context lookup."""
    return current_user._get_current_object()


# --- reading --------------------------------------------------------------------------------


@bp.get("/")
def index():
    return _render("forum/index.html", rows=reading.board_list(current_user))


@bp.get("/b/<int:board_id>")
def board(board_id: int):
    board = reading.readable_board(current_user, board_id)
    listing = reading.topics_page(current_user, board, _page_arg())
    return _render("forum/board.html", board=board, listing=listing, may_post=may_post(current_user, board))


@bp.get("/t/<int:topic_id>")
def topic(topic_id: int):
    topic = reading.readable_topic(_actor(), topic_id)
    return _topic_page(topic, _page_arg(), quote_id=id_arg(request.args.get("quote")))


@bp.get("/p/<int:post_id>")
def post(post_id: int):
    """A link to one post (notifications, the review queue): the topic page that holds it."""

    return redirect(posting.post_url(reading.readable_post(current_user, post_id)))


def _reply_refusal(actor: Any, topic: Topic) -> str | None:
    """Why the reply box is not shown (None: it is). The service decides again on submit."""

    if not actor.is_authenticated:
        return "login"
    board = topic.board
    if topic.state != PostState.published:
        return "主题审核通过后才能回复。"
    if board.archived:
        return "本版块已归档，不能回复。"
    if not may_post(actor, board):
        return "您没有在本版块发言的权限。"
    if topic.locked and not moderates_any_board(actor, board):
        return "主题已锁定，不能回复。"
    until = silenced_until(actor.id)
    if until is not None:
        return f"您已被禁言至 {localtime(until)}，暂不能发言。"
    return None


def _topic_page(
    topic: Topic,
    page: int | None,
    *,
    quote_id: int | None = None,
    reply_text: str | None = None,
    reply_to: int | None = None,
    reply_error: str | None = None,
    status: int = 200,
):

    actor = _actor()
    view = reading.posts_page(actor, topic, page)
    uid = actor.id if actor.is_authenticated else None
    board = topic.board
    if quote_id is not None and reply_text is None:
        quoted = db.session.get(Post, quote_id)
        if quoted is not None and quoted.topic_id == topic.id and reading.may_see_post(actor, quoted):
            reply_text, reply_to = posting.quote_markdown(quoted), quoted.id
    move_targets = []
    if view.moderator:
        move_targets = [
            b
            for b in db.session.scalars(readable_boards_stmt(actor))
            if b.id != board.id and moderates_any_board(actor, b)
        ]
    refusal = _reply_refusal(actor, topic)
    may_accept = topic.kind == TopicKind.question and uid is not None and (uid == topic.author_id or view.moderator)
    topic_url = url_for("forum.topic", topic_id=topic.id)
    page_url = f"{topic_url}?page={view.page}"
    html = render_template(
        "forum/topic.html",
        topic=topic,
        board=board,
        view=view,
        posts_html=post_block.render(actor, topic, view, refusal=refusal, may_accept=may_accept, page_url=page_url),
        accepted=reading.accepted_post(actor, topic),
        subscribed=reactions.is_subscribed(uid, topic.id) if uid else False,
        readers=reading.reading_line(reading.who_is_reading(topic, exclude_user_id=uid)),
        refusal=refusal,
        reply_text=reply_text or "",
        reply_to=reply_to,
        reply_error=reply_error,
        move_targets=move_targets,
        topic_url=topic_url,
        page_window=page_window,
        markdown_hint=MARKDOWN_HINT,
    )
    if view.read_mark_stale and status == 200:
        with atomic():  # after rendering: the commit expires what the template used
            reading.mark_read(actor, topic, view.last_post_id)
    return html, status


# --- posting --------------------------------------------------------------------------------


@bp.route("/b/<int:board_id>/new", methods=["GET", "POST"])
def new_topic(board_id: int):

    board = reading.readable_board(current_user, board_id)
    if not may_post(current_user, board):
        raise Forbidden("您没有在本版块发主题的权限。")
    form = {"title": "", "kind": TopicKind.discussion.value, "body": ""}
    if request.method == "GET":
        return _render("forum/new_topic.html", board=board, form=form, error=None)
    form = {key: request.form.get(key, default) for key, default in form.items()}
    if form["kind"] not in {k.value for k in TopicKind}:
        form["kind"] = TopicKind.discussion.value
    try:
        with atomic():
            opener = posting.create_topic(current_user, board, form["title"], form["body"], kind=form["kind"])
            topic_id, held = opener.topic_id, opener.state == PostState.held
    except DomainError as error:
        return _render("forum/new_topic.html", error.status, board=board, form=form, error=error)
    flash(HELD_MESSAGE if held else "主题已发布。", "info" if held else "success")
    return redirect(url_for("forum.topic", topic_id=topic_id))


@bp.post("/t/<int:topic_id>/reply")
def reply(topic_id: int):

    topic = reading.readable_topic(current_user, topic_id)
    body = request.form.get("body", "")
    reply_to = id_arg(request.form.get("reply_to"))
    try:
        with atomic():
            target = db.session.get(Post, reply_to) if reply_to else None
            if target is not None and (target.topic_id != topic.id or target.state != PostState.published):
                target = None  # a stale or forged reference: reply without it rather than refuse
            created = posting.reply(current_user, topic, body, reply_to=target)
            held, url = created.state == PostState.held, posting.post_url(created)
    except DomainError as error:
        topic = reading.readable_topic(current_user, topic_id)
        return _topic_page(
            topic, MAX_ID, reply_text=body, reply_to=reply_to, reply_error=error.message, status=error.status
        )
    flash(HELD_MESSAGE if held else "回复已发布。", "info" if held else "success")
    return redirect(url)


@bp.get("/p/<int:post_id>/quote")
def quote(post_id: int):
    """The quote text for the reply box (forum.js; without JS the 引用 link reloads with ?quote=)."""

    post = reading.readable_post(current_user, post_id)
    return jsonify(post_id=post.id, markdown=posting.quote_markdown(post))


@bp.route("/p/<int:post_id>/edit", methods=["GET", "POST"])
def edit(post_id: int):

    post = reading.readable_post(current_user, post_id)
    if not posting.may_edit(current_user, post):
        raise Forbidden("您不能编辑这条帖子（可能已超过允许修改的时间）。")
    opener = post.id == post.topic.first_post_id
    form = {"title": post.topic.title if opener else "", "body": post.body, "reason": ""}
    if request.method == "GET":
        return _render("forum/edit.html", post=post, topic=post.topic, opener=opener, form=form, error=None)
    form = {key: request.form.get(key, default) for key, default in form.items()}
    try:
        with atomic():
            edited = posting.edit_post(
                current_user, post, form["body"], title=form["title"] if opener else None, reason=form["reason"]
            )
            url = posting.post_url(edited)
    except DomainError as error:
        post = reading.readable_post(current_user, post_id)
        return _render(
            "forum/edit.html", error.status, post=post, topic=post.topic, opener=opener, form=form, error=error
        )
    flash("修改已保存。", "success")
    return redirect(url)


def _acted(action, back: str):
    """Run `action(back) -> (message, back)` in one transaction and go back; a refusal is
    flashed (JSON callers, the like button's script, get the JSON error instead)."""
    try:
        with atomic():
            message, back = action(back)
    except DomainError as error:
        if wants_json():
            raise
        flash(error.message, "error")
    else:
        flash(message, "success")
    return redirect(back)


def _post_action(post_id: int, action):
    """`action(post, back) -> (message, back)` on a post the actor may read."""
    post = reading.readable_post(current_user, post_id)
    return _acted(lambda back: action(post, back), posting.post_url(post))


@bp.route("/p/<int:post_id>/delete", methods=["GET", "POST"])
def delete(post_id: int):
    """A confirmation page with the reason (required from moderators: the author is told it)."""

    post = reading.readable_post(current_user, post_id)
    if not posting.may_delete(current_user, post):
        raise Forbidden("您不能删除这条帖子。")
    opener = post.id == post.topic.first_post_id
    context = {"post": post, "topic": post.topic, "opener": opener, "own": post.author_id == current_user.id}
    if request.method == "GET":
        return _render("forum/delete.html", reason="", error=None, **context)
    reason = request.form.get("reason", "")
    board_id = post.topic.board_id
    try:
        with atomic():
            posting.delete_post(current_user, post, reason)
            back = posting.post_url(post) if reading.may_see_topic(current_user, post.topic) else None
    except DomainError as error:
        post = reading.readable_post(current_user, post_id)
        context.update(post=post, topic=post.topic)
        return _render("forum/delete.html", error.status, reason=reason, error=error, **context)
    flash("主题已删除。" if opener else "帖子已删除。", "success")
    return redirect(back or url_for("forum.board", board_id=board_id))


@bp.post("/p/<int:post_id>/like")
def like(post_id: int):

    post = reading.readable_post(current_user, post_id)
    back = posting.post_url(post)
    try:
        with atomic():
            liked, count = reactions.toggle_like(current_user, post)
    except DomainError as error:
        if wants_json():
            raise
        flash(error.message, "error")
        return redirect(back)
    if wants_json():
        return jsonify(liked=liked, count=count)
    return redirect(back)


@bp.route("/p/<int:post_id>/flag", methods=["GET", "POST"])
def flag(post_id: int):
    """举报: a small page of its own (reason + note), so a topic page does not carry 50 forms."""

    post = reading.readable_post(current_user, post_id)
    form = {"reason": "", "note": ""}
    if request.method == "GET":
        return _render("forum/flag.html", post=post, topic=post.topic, form=form, reasons=list(FlagReason), error=None)
    form = {key: request.form.get(key, "") for key in form}
    try:
        if form["reason"] not in {r.value for r in FlagReason}:
            raise DomainError("请选择举报原因。", "reason_required", "reason")
        with atomic():
            reactions.flag_post(current_user, post, form["reason"], form["note"])
            back = posting.post_url(post)
    except DomainError as error:
        if wants_json():
            raise
        post = reading.readable_post(current_user, post_id)
        return _render(
            "forum/flag.html",
            error.status,
            post=post,
            topic=post.topic,
            form=form,
            reasons=list(FlagReason),
            error=error,
        )
    flash("已举报，感谢您的反馈，版主会尽快处理。", "success")
    return redirect(back)


@bp.post("/p/<int:post_id>/accept")
def accept(post_id: int):

    def act(post: Post, back: str):
        topic = reactions.accept_answer(current_user, post)
        return ("已采纳为最佳答案。" if topic.accepted_post_id == post.id else "已取消采纳。"), back

    return _post_action(post_id, act)


@bp.get("/p/<int:post_id>/revisions")
def revisions(post_id: int):

    post = reading.readable_post(current_user, post_id)
    rows = topic_admin.revisions(current_user, post)
    return _render("forum/revisions.html", post=post, topic=post.topic, revisions=rows)


# --- topic actions --------------------------------------------------------------------------


def _on() -> bool:
    value = request.form.get("on", "")
    if value not in ("1", "0"):
        raise DomainError("提交的内容不正确，请刷新页面后重试。", "invalid", "on")
    return value == "1"


def _topic_action(topic_id: int, action):
    """`action(topic) -> message` on a topic the actor may read; back to the topic."""
    topic = reading.readable_topic(current_user, topic_id)
    return _acted(lambda back: (action(topic), back), url_for("forum.topic", topic_id=topic.id))


def _toggle(topic_id: int, setter, when_on: str, when_off: str):
    """Set one of the topic's switches to the submitted `on` value."""

    def act(topic: Topic) -> str:
        on = _on()
        setter(current_user, topic, on)
        return when_on if on else when_off

    return _topic_action(topic_id, act)


@bp.post("/t/<int:topic_id>/subscribe")
def subscribe(topic_id: int):
    return _toggle(topic_id, reactions.set_subscription, "已关注该主题，有新回复时会通知您。", "已取消关注。")


@bp.post("/t/<int:topic_id>/pin")
def pin(topic_id: int):
    return _toggle(topic_id, topic_admin.set_pinned, "已置顶。", "已取消置顶。")


@bp.post("/t/<int:topic_id>/lock")
def lock(topic_id: int):
    return _toggle(topic_id, topic_admin.set_locked, "已锁定，成员不能再回复。", "已解除锁定。")


@bp.post("/t/<int:topic_id>/move")
def move(topic_id: int):

    def act(topic: Topic) -> str:
        target_id = id_arg(request.form.get("board_id"))
        if target_id is None:
            raise DomainError("请选择要移动到的版块。", "board_required", "board_id")
        target = reading.readable_board(current_user, target_id)
        topic_admin.move_topic(current_user, topic, target)
        return f"已移动到“{target.name}”。"

    return _topic_action(topic_id, act)
