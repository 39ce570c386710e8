"""Answer templates and the public FAQ (常见问题): one table, `published` decides what the public sees.

Handlers insert a template into the answer box and edit it before sending, so a template is
plain text like every help-desk message (shown escaped, line breaks kept). The request form
calls :func:`suggest` as the member types: many questions are answered by an FAQ entry
before anyone files them.

Matching segments the typed text and each published entry with jieba (the shared tokenizer
of :mod:`dangxiao.text.segment`, party terms included) and scores the overlap of meaningful
tokens, a title token counting more than a body token and a rare token more than a common
one. The entries' token sets are built once per process and rebuilt only when the published
set changes (its count, newest ``updated_at`` and ids), so a keystroke costs one small query
plus segmenting the typed text.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.text.clean import clean_block, clean_line
from forum.helpdesk.models import HelpCategory, HelpTemplate

TITLE_MIN, TITLE_MAX = 4, 80
BODY_MIN, BODY_MAX = 10, 3000
POSITION_RANGE = (0, 100_000)
FIELDS = ("title", "body", "category", "published", "position")
SUGGEST_MAX_CHARS = 2000  # only the start of a long text is segmented on a keystroke
TITLE_WEIGHT = 3.0
# Words of any question that say nothing about which FAQ entry fits.
STOP_WORDS = frozenset(
    """我们 你们 他们 自己 可以 怎么 怎样 如何 什么 为什么 需要 一个 没有 现在 是否 请问 已经 这个 那个 哪里
    哪些 问题 应该 能否 还是 或者 以及 因为 所以 但是 如果 的话 一下 时候 目前 可能 关于 进行 相关 有关 一般
    其他 情况 办理 您好 你好 谢谢 麻烦 知道 不知 就是 还有 这样 那么 之后 以后 以前 之前""".split()
)
_MEANINGFUL = re.compile(r"[\w\u4e00-\u9fff]")


# --- reading -----------------------------------------------------------------------------------


def published() -> list[HelpTemplate]:
    """The public FAQ in display order (position, then oldest first)."""
    stmt = select(HelpTemplate).where(HelpTemplate.published.is_(True))
    return list(db.session.scalars(stmt.order_by(HelpTemplate.position, HelpTemplate.id)))


def all_templates() -> list[HelpTemplate]:
    """Every template (unpublished too) in display order, for the admin list."""
    return list(db.session.scalars(select(HelpTemplate).order_by(HelpTemplate.position, HelpTemplate.id)))


def for_handlers(category: str | None = None) -> list[HelpTemplate]:
    """Every template a handler may insert; those of `category` (then general ones) first.

    Not filtered: a transfer question often needs the dues answer too, and hiding the rest
    would send the handler typing it again.
    """
    rows = all_templates()
    wanted = _category(category) if category else None
    if wanted is None:
        return rows

    def rank(t: HelpTemplate) -> int:
        return 0 if t.category == wanted else 1 if t.category is None else 2

    return sorted(rows, key=rank)  # stable: display order within each rank


def get_template(template_id: int) -> HelpTemplate:
    template = db.session.get(HelpTemplate, template_id) if isinstance(template_id, int) else None
    if template is None:
        raise NotFound("模板不存在。")
    return template


def grouped(templates: list[HelpTemplate]) -> list[tuple[str, list[HelpTemplate]]]:
    """(category label, entries) in the categories' order; entries without a category last, as 综合."""
    groups: dict[HelpCategory | None, list[HelpTemplate]] = {}
    for t in templates:
        groups.setdefault(t.category, []).append(t)
    out = [(c.label, groups[c]) for c in HelpCategory if c in groups]
    if None in groups:
        out.append(("综合", groups[None]))
    return out


# --- validation --------------------------------------------------------------------------------


def _category(raw: Any) -> HelpCategory | None:
    """A category by value or label; "" / None / "all" mean a general template."""
    if isinstance(raw, HelpCategory) or raw is None:
        return raw
    if not isinstance(raw, str):
        raise DomainError("未知的问题类别。", "category_invalid", "category")
    text = raw.strip()
    if text in ("", "all", "none"):
        return None
    for c in HelpCategory:
        if text in (c.value, c.label):
            return c
    raise DomainError("未知的问题类别。", "category_invalid", "category")


def _bool(raw: Any) -> bool:
    """A checkbox value: bools, 0/1, or the strings a form sends ("y", "on", "1"; "" or absent is off)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return raw != 0
    if isinstance(raw, str) and raw.strip().lower() in ("1", "y", "yes", "true", "on"):
        return True
    if isinstance(raw, str) and raw.strip().lower() in ("", "0", "n", "no", "false", "off"):
        return False
    raise DomainError("“公开”的取值不正确。", "published_invalid", "published")


def _position(raw: Any) -> int:
    if isinstance(raw, str):
        text = clean_line(raw, "position", "排序", 12, required=False)
        raw = int(text) if text.isascii() and text.lstrip("-").isdigit() else (0 if not text else None)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise DomainError("排序必须是整数。", "position_invalid", "position")
    low, high = POSITION_RANGE
    if not low <= raw <= high:
        raise DomainError(f"排序必须在 {low} 到 {high} 之间。", "position_range", "position")
    return raw


def _validated(values: dict[str, Any], template_id: int | None) -> dict[str, Any]:
    title = clean_line(values.get("title"), "title", "问题（标题）", TITLE_MAX)
    if len(title) < TITLE_MIN:
        raise DomainError(f"问题（标题）至少 {TITLE_MIN} 个字。", "title_short", "title")
    same = select(HelpTemplate.id).where(HelpTemplate.title == title)
    if template_id is not None:
        same = same.where(HelpTemplate.id != template_id)
    if db.session.scalar(same.limit(1)) is not None:
        raise DomainError(f"已有标题为“{title}”的模板。", "title_taken", "title")
    body = clean_block(values.get("body"), "body", "答复内容", BODY_MAX)
    if len(body) < BODY_MIN:
        raise DomainError(f"答复内容至少 {BODY_MIN} 个字。", "body_short", "body")
    return {
        "title": title,
        "body": body,
        "category": _category(values.get("category")),
        "published": _bool(values.get("published", False)),
        "position": _position(values.get("position", 0)),
    }


# --- services ----------------------------------------------------------------------------------


def add_template(
    actor: Any,
    title: str,
    body: str,
    category: str | HelpCategory | None = None,
    published: bool = True,
    position: int | str | None = None,
) -> HelpTemplate:
    """A new template; without a position it goes last."""
    require(actor, "help.templates")
    if position in (None, ""):
        position = (db.session.scalar(select(func.max(HelpTemplate.position))) or 0) + 1
    values = _validated(
        {"title": title, "body": body, "category": category, "published": published, "position": position}, None
    )
    template = HelpTemplate(**values, created_by_id=getattr(actor, "id", None), updated_at=utcnow())
    db.session.add(template)
    db.session.flush()
    return template


def update_template(actor: Any, template_id: int, **fields: Any) -> HelpTemplate:
    """Change any of title, body, category, published, position; `updated_at` moves on every change."""
    require(actor, "help.templates")
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown template fields: {sorted(unknown)}")
    template = get_template(template_id)
    current = {field: getattr(template, field) for field in FIELDS}
    values = _validated({**current, **fields}, template.id)
    changed = [field for field in FIELDS if values[field] != current[field]]
    for field in changed:
        setattr(template, field, values[field])
    if changed:
        template.updated_at = utcnow()
    db.session.flush()
    return template


def set_published(actor: Any, template_id: int, published: bool) -> HelpTemplate:
    return update_template(actor, template_id, published=bool(published))


def delete_template(actor: Any, template_id: int) -> str:
    """Delete a template (messages that used it keep their text); returns its title for the message."""
    require(actor, "help.templates")
    template = get_template(template_id)
    title = template.title
    db.session.delete(template)
    db.session.flush()
    return title


# --- suggestions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    id: int
    title: frozenset[str]
    body: frozenset[str]


@dataclass(frozen=True)
class _Index:
    entries: tuple[_Entry, ...]
    idf: dict[str, float]


_lock = threading.Lock()
_cache: dict[str, tuple[tuple, _Index]] = {}  # database URL → (published-set key, index)


def _segmenter() -> Callable[[str], list[str]]:
    """The shared tokenizer's search cut (long terms also yield their parts: 组织关系转接 → 组织关系, 转接)."""
    try:
        from dangxiao.text import segment
    except ImportError:  # the shared module missing: plain jieba still finds the words
        import jieba

        return jieba.lcut_for_search
    return getattr(segment, "cut_for_search", None) or segment.cut


def tokens(text: str) -> frozenset[str]:
    """Meaningful tokens of `text`: two characters or more, letters/digits/CJK, not a stop word."""
    out = set()
    for token in _segmenter()(text[:SUGGEST_MAX_CHARS]):
        token = token.strip().lower()
        if len(token) >= 2 and _MEANINGFUL.search(token) and token not in STOP_WORDS:
            out.add(token)
    return frozenset(out)


def _index() -> _Index:
    """The published entries' token sets, rebuilt when the published set changed."""
    url = db.engine.url.render_as_string(hide_password=True)
    key = tuple(
        db.session.execute(
            select(func.count(HelpTemplate.id), func.max(HelpTemplate.updated_at), func.sum(HelpTemplate.id)).where(
                HelpTemplate.published.is_(True)
            )
        ).one()
    )
    cached = _cache.get(url)
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        rows = db.session.execute(
            select(HelpTemplate.id, HelpTemplate.title, HelpTemplate.body).where(HelpTemplate.published.is_(True))
        ).all()
        entries = tuple(_Entry(row.id, tokens(row.title), tokens(row.body)) for row in rows)
        df: dict[str, int] = {}
        for entry in entries:
            for token in entry.title | entry.body:
                df[token] = df.get(token, 0) + 1
        n = len(entries)
        # A token in most entries (党员, 组织) does not tell them apart: it scores nothing.
        idf = {t: math.log(1 + n / d) for t, d in df.items() if n < 4 or d <= n / 2}
        index = _Index(entries, idf)
        _cache[url] = (key, index)
    return index


def suggest(text: str, limit: int = 3) -> list[HelpTemplate]:
    """Published entries matching the typed text, best first; none when nothing meaningful overlaps."""
    if not isinstance(text, str) or not text.strip() or limit <= 0:
        return []
    wanted = tokens(text)
    if not wanted:
        return []
    index = _index()
    scored: list[tuple[float, int]] = []
    for entry in index.entries:
        score = sum(index.idf.get(t, 0.0) * TITLE_WEIGHT for t in wanted & entry.title)
        score += sum(index.idf.get(t, 0.0) for t in wanted & entry.body - entry.title)
        if score > 0:
            scored.append((score, entry.id))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    ids = [entry_id for _, entry_id in scored[:limit]]
    if not ids:
        return []
    found = {t.id: t for t in db.session.scalars(select(HelpTemplate).where(HelpTemplate.id.in_(ids)))}
    return [found[i] for i in ids if i in found and found[i].published]
