"""After a session: the 答疑实录 forum topic and the CSV export.

The archive is an ordinary topic written through ``forum.posting.create_topic`` as the host
who closed the session (or, if that host may not post on the board, as the session's
creator): board rights, limits and the keyword engine apply as to anyone, so a held topic
waits in the review queue. It runs inside a savepoint of the closing transaction: a board
that refuses the topic rolls back the topic only, and the session is closed all the same.

Askers are named in the topic unless they asked anonymously (the topic may reach readers the
session did not, so an anonymous question stays anonymous). The CSV is for the hosts: it
names every asker and lists every question, whatever its status.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import aliased

from dangxiao.accounts.models import User
from dangxiao.errors import DomainError
from dangxiao.exports import safe_cell
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.templating import localtime
from forum import posting
from forum.boards import may_post
from forum.limits import TITLE_COLUMN_MAX, count_chars
from forum.live.models import LiveHost, LiveQuestion, LiveSession, QuestionStatus
from forum.live.sessions import Closed, get_session
from forum.models import Board, PostState

TITLE_PREFIX = "答疑实录："
ANONYMOUS = "匿名"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!])")
_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+[.)])", re.MULTILINE)
CSV_HEADERS = (
    "编号",
    "状态",
    "问题",
    "原始提问",
    "提问人",
    "用户名",
    "匿名",
    "票数",
    "回答",
    "回答人",
    "未采用原因",
    "提问时间",
    "回答时间",
)


def escape_markdown(text: str) -> str:
    """Plain text shown literally in Markdown: no emphasis, links, HTML, headings or lists."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def _paragraphs(text: str) -> str:
    return "\n\n".join(escape_markdown(line.strip()) for line in text.split("\n") if line.strip())


def _title(session: LiveSession) -> str:
    """答疑实录：<title>, shortened with … to what a forum title may hold."""
    limit = int(current_app.config["FORUM_TITLE_MAX_CHARS"])
    title = f"{TITLE_PREFIX}{session.title}"
    if count_chars(title) <= limit and len(title) <= TITLE_COLUMN_MAX:
        return title
    words = " ".join(session.title.split())
    while words and (count_chars(TITLE_PREFIX + words + "…") > limit or len(TITLE_PREFIX + words) >= TITLE_COLUMN_MAX):
        words = words[:-1]
    return f"{TITLE_PREFIX}{words.rstrip()}…"


def _answered(session: LiveSession) -> list[tuple[LiveQuestion, str | None, str | None]]:
    """Answered questions, most votes first, with the asker's and the answerer's names."""
    asker, answerer = aliased(User), aliased(User)
    rows = db.session.execute(
        select(LiveQuestion, asker.display_name, answerer.display_name)
        .outerjoin(asker, asker.id == LiveQuestion.author_id)
        .outerjoin(answerer, answerer.id == LiveQuestion.answered_by_id)
        .where(LiveQuestion.session_id == session.id, LiveQuestion.status == QuestionStatus.answered)
        .order_by(LiveQuestion.votes.desc(), LiveQuestion.answered_at.asc(), LiveQuestion.id.asc())
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _host_names(session: LiveSession) -> list[str]:
    stmt = (
        select(User.display_name)
        .join(LiveHost, LiveHost.user_id == User.id)
        .where(LiveHost.session_id == session.id)
        .order_by(LiveHost.id)
    )
    return list(db.session.scalars(stmt))


def compose(session: LiveSession, answered: list[tuple[LiveQuestion, str | None, str | None]]) -> str:
    """The topic's Markdown: a header, then 问/答 per question; cut (and said so) at the post limit."""
    limit = int(current_app.config["FORUM_POST_MAX_CHARS"])
    header = [
        f"在线答疑“{escape_markdown(session.title)}”已于 {localtime(session.closed_at)} 结束。"
        f"以下是主持人回答的 {len(answered)} 个问题，按票数从高到低排列。",
    ]
    hosts = _host_names(session)
    if hosts:
        header.append(f"主持人：{escape_markdown('、'.join(hosts))}")
    parts = ["\n\n".join(header)]
    used = count_chars(parts[0])
    reserve = 100  # room for the "cut" sentence
    for shown, (question, asker_name, answerer_name) in enumerate(answered):
        asker = ANONYMOUS if question.anonymous or not asker_name else asker_name
        heading = " ".join(question.text.split())
        answer_by = f"（{escape_markdown(answerer_name)}）" if answerer_name else ""
        section = (
            f"### 问：{escape_markdown(heading)}\n\n"
            f"提问人：{escape_markdown(asker)} · {question.votes} 票\n\n"
            f"**答{answer_by}：**\n\n{_paragraphs(question.answer) or '（无文字回答）'}"
        )
        size = count_chars(section)
        if used + size > limit - reserve:
            parts.append(f"（篇幅所限，另有 {len(answered) - shown} 个已回答的问题未收录，可由主持人导出 CSV 查看。）")
            break
        parts.append(section)
        used += size
    return "\n\n---\n\n".join(parts)


def _author(actor: Any, session: LiveSession, board: Board) -> Any | None:
    """Who signs the topic: the closing host, else the creator; None if neither may post there."""
    if may_post(actor, board):
        return actor
    creator = db.session.get(User, session.created_by_id) if session.created_by_id else None
    if creator is not None and may_post(creator, board):
        return creator
    return None


def archive(actor: Any, session: LiveSession) -> Closed:
    """Write the 答疑实录 topic for a just-closed session; never raises for a refused topic."""
    answered = _answered(session)
    if not answered:
        return Closed(session, 0, note="答疑已结束。没有已回答的问题，未生成答疑实录。")
    done = len(answered)
    board = db.session.get(Board, session.board_id) if session.board_id else None
    if board is None:
        return Closed(session, done, note="答疑已结束。该答疑未关联版块，未生成答疑实录，可导出 CSV 保存。")
    author = _author(actor, session, board)
    if author is None:
        return Closed(session, done, note=f"答疑已结束，但您和创建者都不能在版块“{board.name}”发帖，未生成答疑实录。")
    try:
        with db.session.begin_nested():  # a refusal undoes the topic only, never the closing
            post = posting.create_topic(author, board, _title(session), compose(session, answered))
    except DomainError as error:
        return Closed(session, done, note=f"答疑已结束，但答疑实录未能发布：{error.message}")
    session.archive_topic_id = post.topic_id
    db.session.flush()
    held = post.state == PostState.held
    note = (
        f"答疑已结束。答疑实录（{done} 个问题）已提交，正在等待版主审核。"
        if held
        else f"答疑已结束。答疑实录（{done} 个问题）已发布到版块“{board.name}”。"
    )
    return Closed(session, done, topic_id=post.topic_id, held=held, note=note)


# --- CSV -------------------------------------------------------------------------------------


def export_csv(actor: Any, session_id: Any) -> bytes:
    """Every question of the session for its hosts: UTF-8 with BOM (Excel reads the Chinese), local times."""
    session = get_session(session_id)
    require(actor, "live.manage", session, "只有主持人可以导出该答疑。")
    asker, answerer = aliased(User), aliased(User)
    rows = db.session.execute(
        select(LiveQuestion, asker.display_name, asker.username, answerer.display_name)
        .outerjoin(asker, asker.id == LiveQuestion.author_id)
        .outerjoin(answerer, answerer.id == LiveQuestion.answered_by_id)
        .where(LiveQuestion.session_id == session.id)
        .order_by(LiveQuestion.id)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    for number, (q, name, username, answered_by) in enumerate(rows, start=1):
        writer.writerow(
            [
                safe_cell(value)
                for value in (
                    number,
                    q.status.label,
                    q.text,
                    q.original_text or "",
                    name or "（已注销）",
                    username or "",
                    "是" if q.anonymous else "否",
                    q.votes,
                    q.answer,
                    answered_by or "",
                    q.dismiss_reason,
                    localtime(q.created_at, "%Y-%m-%d %H:%M:%S"),
                    localtime(q.answered_at, "%Y-%m-%d %H:%M:%S") if q.answered_at else "",
                )
            ]
        )
    return out.getvalue().encode("utf-8-sig")
