"""Posting limits: lengths counted the way a Chinese reader counts, rate limits, duplicates, silences.

Lengths count characters a reader sees: whitespace and invisible (zero-width, format)
characters do not count, so a post of spaces and U+200B is empty and 一个汉字 is one
character. Rate limits and the duplicate check are counted from the posts table itself
(index ``ix_forum_posts_author_created``): no counter to drift, the same answer in every
process.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, func, select

from dangxiao.db_types import aware, utcnow
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.templating import localtime
from dangxiao.text.clean import fold_width, strip_invisible
from dangxiao.text.normalise import normalise_text
from forum.models import Post, PostState, Topic
from forum.moderation.silence import silenced_until

TITLE_COLUMN_MAX = 100  # Topic.title is String(100)


class RateLimited(DomainError):
    """Too many posts too fast (HTTP 429)."""

    code = "rate_limited"
    status = 429


def _config(name: str) -> int:
    return int(current_app.config[name])


def count_chars(text: str) -> int:
    """Characters a reader sees: whitespace, control and format (zero-width) characters do not count."""
    return sum(1 for ch in strip_invisible(text) if not ch.isspace())


def clean_title(raw: object) -> str:
    """A topic title: one line, NFKC (punctuation kept), invisible characters gone, length in visible characters."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise DomainError("标题必须是文字。", "title_invalid", "title")
    if len(raw) > 10 * TITLE_COLUMN_MAX:  # do not fold megabytes only to refuse them
        raise DomainError(f"标题不能超过 {_config('FORUM_TITLE_MAX_CHARS')} 个字。", "title_too_long", "title")
    title = " ".join(strip_invisible(fold_width(raw)).split())
    count = count_chars(title)
    low, high = _config("FORUM_TITLE_MIN_CHARS"), _config("FORUM_TITLE_MAX_CHARS")
    if count < low:
        raise DomainError(f"标题至少 {low} 个字（空格不计）。", "title_too_short", "title")
    if count > high or len(title) > TITLE_COLUMN_MAX:
        raise DomainError(f"标题不能超过 {high} 个字，当前 {count} 个。", "title_too_long", "title")
    return title


def clean_body(raw: object) -> str:
    """A post's Markdown: newlines kept (CRLF → LF), invisible characters gone, length checked."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise DomainError("内容必须是文字。", "body_invalid", "body")
    low, high = _config("FORUM_POST_MIN_CHARS"), _config("FORUM_POST_MAX_CHARS")
    if len(raw) > 4 * high:  # far over the limit whatever it contains: refuse before any work
        raise DomainError(f"内容不能超过 {high} 个字，请删减后再提交。", "too_long", "body")
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = strip_invisible(text, keep_newlines=True).strip()
    count = count_chars(text)
    if count == 0:
        raise DomainError("请填写内容（空格和不可见字符不算）。", "too_short", "body")
    if count < low:
        raise DomainError(f"内容至少 {low} 个字（空格不计）。", "too_short", "body")
    if count > high:
        raise DomainError(f"内容不能超过 {high} 个字，当前 {count} 个，请删减后再提交。", "too_long", "body")
    return text


def content_hash(body: str) -> str:
    """sha256 of the folded text: a repost with changed width, case, spacing or script is the same post."""
    folded = normalise_text(body) or "".join(body.split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


def is_new_account(user: Any) -> bool:
    created = aware(getattr(user, "created_at", None))
    if created is None:
        return False
    return created > utcnow() - timedelta(days=_config("FORUM_NEW_ACCOUNT_DAYS"))


def check_silence(user: Any) -> None:
    until: datetime | None = silenced_until(getattr(user, "id", None))
    if until is not None:
        raise DomainError(f"您已被禁言，{localtime(until)} 之前不能发帖或回复。", "silenced")


def check_recent(user: Any, digest: str, *, topic: bool) -> None:
    """Refuse a double submit (same folded text within FORUM_DUPLICATE_MINUTES), then a member over
    their allowance: replies per minute, topics per hour (stricter for new accounts).

    One look at the member's recent posts answers both for a reply (the index on author and
    time); a topic also counts the member's topics of the last hour.
    """
    new = is_new_account(user)
    now = utcnow()
    dup_since = now - timedelta(minutes=_config("FORUM_DUPLICATE_MINUTES"))
    minute_ago = now - timedelta(minutes=1)
    recent, same = db.session.execute(
        select(
            func.count(case((Post.created_at > minute_ago, 1))),
            func.count(
                case(
                    (
                        and_(
                            Post.created_at > dup_since,
                            Post.content_hash == digest,
                            Post.state != PostState.deleted,
                        ),
                        1,
                    )
                )
            ),
        ).where(Post.author_id == user.id, Post.created_at > min(dup_since, minute_ago))
    ).one()
    if same:
        raise DomainError("同样的内容您刚刚已经发过了", "duplicate", "body")
    who = "新注册用户" if new else "每位党员"
    if topic:
        limit = _config("FORUM_NEW_TOPICS_PER_HOUR" if new else "FORUM_TOPICS_PER_HOUR")
        used = db.session.scalar(
            select(func.count())
            .select_from(Topic)
            .where(Topic.author_id == user.id, Topic.created_at > now - timedelta(hours=1))
        )
        if (used or 0) >= limit:
            raise RateLimited(f"发主题过于频繁：{who}每小时最多发 {limit} 个主题，请稍后再试。")
        return
    limit = _config("FORUM_NEW_REPLIES_PER_MINUTE" if new else "FORUM_REPLIES_PER_MINUTE")
    if (recent or 0) >= limit:
        raise RateLimited(f"回复过于频繁：{who}每分钟最多回复 {limit} 次，请稍后再试。")
