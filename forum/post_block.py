"""The posts of a topic page as one block of markup (the hot path of the forum).

Written in Python rather than as a Jinja loop: with 50 posts a page, each asking a dozen
questions, Jinja's per-expression cost was most of the page's rendering time
(``bench/forum.py``: 25 → 11.5 ms a page). Every value taken from the database goes
through ``escape`` except ``body_html``, sanitised when it was stored;
``tests/forum/test_forum_pages.py`` checks names and reasons come out escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from flask import url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from dangxiao.templating import site_zone
from forum import posting, reading
from forum.boards import is_moderator_anywhere, moderates
from forum.models import PostState, Topic

_ACTION_SEP = "\n      "


def _stamp(value: datetime, zone: tzinfo) -> tuple[str, str]:
    """(ISO 8601, "YYYY-MM-DD HH:MM") of a stored UTC time in the site's zone: what the |isotime and
    |localtime filters give, without looking the zone up again for each post."""
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
    return local.isoformat(timespec="seconds"), local.strftime("%Y-%m-%d %H:%M")


def render(
    actor: Any, topic: Topic, view: reading.PostsPage, *, refusal: str | None, may_accept: bool, page_url: str
) -> Markup:
    """The page's posts as one block of markup: each an <article> with its author, time, body
    and the buttons the actor may use.

    Edit/delete: a moderator of the whole board (admin, unscoped 版主, board moderator without a
    branch scope) may act on every post that is not deleted; anyone else on their own posts and,
    for branch-scoped moderators, the posts of authors in their branches: those few are asked of
    :mod:`forum.posting` one by one (it owns the edit window and the other rules).
    """
    uid = actor.id if actor.is_authenticated else None
    anywhere = uid is not None and is_moderator_anywhere(actor)
    everything = anywhere and moderates(actor, topic.board, None)
    zone = site_zone()
    base = url_for("forum.post", post_id=1)[:-1]  # "/forum/p/": one url_for for 400 links
    token = escape(generate_csrf())
    quote_base = f"{escape(page_url)}&amp;quote="
    published_state, deleted_state = PostState.published, PostState.deleted
    out: list[str] = []
    for number, post in enumerate(view.posts, start=view.first_number):
        pid, author = post.id, post.author
        url = f"{base}{pid}"
        name = escape(author.display_name)
        published = post.state == published_state
        own = uid is not None and post.author_id == uid
        iso, local = _stamp(post.created_at, zone)
        head = [f"<strong>{name}</strong>"]
        if author.branch_id is not None and author.branch is not None:
            head.append(f' <span class="fm-branch">{escape(author.branch.name)}</span>')
        head.append(f' <span class="fm-when"><time datetime="{iso}" data-relative>{local}</time></span>')
        if post.edited_at:
            head.append(f' <span class="fm-edited" title="修改于 {_stamp(post.edited_at, zone)[1]}">已编辑</span>')
        if not published:
            head.append(f' <span class="fm-badge fm-held">{escape(post.state.label)}</span>')
        if topic.accepted_post_id == pid:
            head.append(' <span class="fm-badge fm-ask">最佳答案</span>')
        head.append(f' <a class="fm-floor" href="#p{pid}">#{number}</a>')
        member = uid is not None and published and not own
        if member:
            liked = pid in view.liked
            actions = [
                f'<form method="post" action="{url}/like" class="inline" data-like>'
                f'<input type="hidden" name="csrf_token" value="{token}">'
                f'<button type="submit" class="fm-like" aria-pressed="{"true" if liked else "false"}">'
                f'<span class="fm-like-label">{"已赞" if liked else "赞"}</span> '
                f'<span class="fm-like-count">{post.like_count}</span></button></form>'
            ]
        else:
            actions = [f'<span class="fm-likes">赞 {post.like_count}</span>']
        if refusal is None and published:
            actions.append(f'<a href="{quote_base}{pid}#reply" data-quote-url="{url}/quote">引用</a>')
        if may_accept and published and pid != topic.first_post_id:
            label = "取消采纳" if topic.accepted_post_id == pid else "采纳为答案"
            actions.append(
                f'<form method="post" action="{url}/accept" class="inline">'
                f'<input type="hidden" name="csrf_token" value="{token}">'
                f'<button type="submit" class="link">{label}</button></form>'
            )
        if everything:
            edit = delete = post.state != deleted_state
        elif own or anywhere:
            edit, delete = posting.may_edit(actor, post), posting.may_delete(actor, post)
        else:
            edit = delete = False
        if edit:
            actions.append(f'<a href="{url}/edit">编辑</a>')
        if delete:
            actions.append(f'<a href="{url}/delete">删除</a>')
        if (view.moderator or own) and post.edit_count:
            actions.append(f'<a href="{url}/revisions">修改记录</a>')
        if member:
            actions.append(f'<a href="{url}/flag">举报</a>')
        reason = ""
        if post.deleted_reason and not published:
            reason = f'\n    <p class="muted">删除原因：{escape(post.deleted_reason)}</p>'
        hidden = "" if published else " is-hidden"
        out.append(
            f'<article class="card fm-post{hidden}" id="p{pid}" aria-label="#{number} {name}">\n'
            f'    <header class="fm-post-head">{"".join(head)}</header>{reason}\n'
            f'    <div class="markup fm-body">{post.body_html}</div>\n'
            f'    <footer class="fm-actions">\n      {_ACTION_SEP.join(actions)}\n    </footer>\n'
            "  </article>"
        )
    # Every piece above is a literal, a number, an escaped value or the stored sanitised body_html.
    return Markup("\n  ".join(out))  # noqa: S704
