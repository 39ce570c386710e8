"""The moderation service: rule changes, word-list import/export, the shared engine, hit counts.

Rule changes take the acting user first, check ``moderation.manage`` and only flush.
:func:`check` is what other packages call on user text: it compiles the enabled rules
into an :class:`~forum.moderation.engine.Engine` once per rule-set change and shares it
in the process; each call reads the one-row rule-set token (a primary-key lookup) so a
change committed by another process (a web worker, the CLI) is seen on the next check.
"""

from __future__ import annotations

import csv
import io
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.text.clean import clean_line
from dangxiao.text.normalise import normalise_text
from forum.moderation import audit
from forum.moderation.engine import ACTIONS, SCOPES, Engine, RuleSpec, Verdict
from forum.moderation.models import ModerationRule, ModerationRuleSet

_lock = threading.Lock()
_engines: dict[str, tuple[str, Engine]] = {}  # database URL → (token, engine)
# What the pages and the audit log call actions and scopes.
ACTION_LABELS = {
    "block": "拒绝发布",
    "review": "先审后发",
    "flag": "发布并送审",
    "censor": "替换为＊",
    "tag": "标记类别",
    "allow": "放行（白名单）",
}
SCOPE_LABELS = {"all": "全部文本", "forum": "党建论坛", "help": "求助", "live": "在线答疑"}
_HEADER_WORDS = {"word", "words", "词", "词语", "敏感词", "关键词", "关键字"}


# --- the shared engine -------------------------------------------------------------------


def rule_set_token() -> str:
    """The current rule-set token ("" before any change)."""
    return db.session.scalar(select(ModerationRuleSet.token).where(ModerationRuleSet.id == 1)) or ""


def current_engine() -> Engine:
    """The compiled enabled rules, rebuilt only when the rule-set token changed."""
    key = db.engine.url.render_as_string(hide_password=True)
    token = rule_set_token()
    cached = _engines.get(key)
    if cached is not None and cached[0] == token:
        return cached[1]
    with _lock:
        rows = db.session.execute(
            select(
                ModerationRule.id,
                ModerationRule.word,
                ModerationRule.action,
                ModerationRule.scope,
                ModerationRule.category,
            ).where(ModerationRule.enabled.is_(True))
        ).all()
        engine = Engine(RuleSpec(*row) for row in rows)
        _engines[key] = (token, engine)
    return engine


def check(text: str, scope: str | None = None, *, record: bool = False) -> Verdict:
    """The verdict for `text`; with `record`, count a hit on each rule that fired (flushes)."""
    if scope not in (None, *SCOPES):
        raise DomainError("未知的适用范围。", "scope_invalid", "scope")
    verdict = current_engine().check(text, scope)
    if record:
        record_hits(verdict.rule_ids)
    return verdict


def record_hits(rule_ids: Iterable[int]) -> None:
    """hits = hits + 1 for each rule (once per call), in one UPDATE; the rule set stays valid."""
    ids = sorted(set(rule_ids))
    if ids:
        db.session.execute(
            update(ModerationRule)
            .where(ModerationRule.id.in_(ids))
            .values(hits=ModerationRule.hits + 1)
            .execution_options(synchronize_session=False)
        )


def _changed() -> None:
    """A new rule-set token: every process rebuilds on its next check (once this commits)."""
    token = uuid.uuid4().hex
    done = db.session.execute(
        update(ModerationRuleSet).where(ModerationRuleSet.id == 1).values(token=token, changed_at=utcnow())
    ).rowcount
    if not done:  # the migration inserts the row; be safe if it is missing
        try:
            with db.session.begin_nested():
                db.session.add(ModerationRuleSet(id=1, token=token))
        except IntegrityError:
            db.session.execute(update(ModerationRuleSet).where(ModerationRuleSet.id == 1).values(token=token))


# --- rule changes --------------------------------------------------------------------------


def _category(raw: object) -> str:
    """A tag's category as stored: cleaned like any line (NUL and invisible characters go), ≤ 50."""
    return clean_line(raw, "category", "类别", 50, required=False)


def _validated(word: object, action: str, scope: str, category: str) -> tuple[str, str]:
    word = clean_line(word, "word", "词语", 100)
    pattern = normalise_text(word)
    if not pattern:
        raise DomainError("词语只含标点或符号，无法匹配。", "word_invalid", "word")
    if len(pattern) > 100:
        raise DomainError("词语不能超过 100 个字符。", "word_long", "word")
    if action not in ACTIONS:
        raise DomainError("未知的处理方式。", "action_invalid", "action")
    if scope not in SCOPES:
        raise DomainError("未知的适用范围。", "scope_invalid", "scope")
    if action == "tag" and not _category(category):
        raise DomainError("标记类规则需要填写类别。", "category_empty", "category")
    return word, pattern


def _exists(pattern: str, scope: str, action: str, exclude: int | None = None) -> bool:
    stmt = select(ModerationRule.id).where(
        ModerationRule.pattern == pattern, ModerationRule.scope == scope, ModerationRule.action == action
    )
    if exclude is not None:
        stmt = stmt.where(ModerationRule.id != exclude)
    return db.session.scalar(stmt.limit(1)) is not None


def add_rule(actor: Any, word: str, action: str, scope: str = "all", category: str = "") -> ModerationRule:
    """A new enabled rule; the same word (as folded) with the same action and scope is refused."""
    require(actor, "moderation.manage")
    word, pattern = _validated(word, action, scope, category)
    if _exists(pattern, scope, action):
        raise DomainError("已有相同的规则。", "rule_duplicate", "word")
    rule = ModerationRule(
        word=word,
        pattern=pattern,
        action=action,
        scope=scope,
        category=_category(category),
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(rule)
    db.session.flush()
    _changed()
    audit.log(actor, "rule_add", "rule", rule.id, summary=_describe(rule))
    return rule


def _describe(rule: ModerationRule) -> str:
    state = "" if rule.enabled else "，已停用"
    action, scope = ACTION_LABELS.get(rule.action, rule.action), SCOPE_LABELS.get(rule.scope, rule.scope)
    return f"{rule.word}（{action}，{scope}{state}）"


def update_rule(actor: Any, rule_id: int, **changes: Any) -> ModerationRule:
    """Change word, action, scope, category and/or enabled of a rule."""
    require(actor, "moderation.manage")
    rule = db.session.get(ModerationRule, rule_id)
    if rule is None:
        raise NotFound("规则不存在。")
    unknown = set(changes) - {"word", "action", "scope", "category", "enabled"}
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")
    word = changes.get("word", rule.word)
    action = changes.get("action", rule.action)
    scope = changes.get("scope", rule.scope)
    category = changes.get("category", rule.category) or ""
    word, pattern = _validated(word, action, scope, category)
    if _exists(pattern, scope, action, exclude=rule.id):
        raise DomainError("已有相同的规则。", "rule_duplicate", "word")
    rule.word, rule.pattern, rule.action, rule.scope = word, pattern, action, scope
    rule.category = _category(category)
    if "enabled" in changes:
        rule.enabled = bool(changes["enabled"])
    db.session.flush()
    _changed()
    audit.log(actor, "rule_update", "rule", rule.id, summary=_describe(rule))
    return rule


def disable_rule(actor: Any, rule_id: int) -> ModerationRule:
    return update_rule(actor, rule_id, enabled=False)


# --- word lists ------------------------------------------------------------------------------


def decode_word_list(data: bytes) -> str:
    """UTF-8 with or without BOM, else GBK (read as GB 18030, its superset)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise DomainError("无法识别文件编码（支持 UTF-8 与 GBK）。", "file_encoding", "file") from exc


def parse_word_list(data: bytes, filename: str = "") -> list[tuple[str, str | None, str | None, str | None]]:
    """(word, action, scope, category) rows of a TXT (one word a line) or CSV (word,action,scope[,category]).

    CSV is recognised by a ``.csv`` name, or by a comma on the first non-blank line of an
    unnamed file; a header row is skipped. Blank lines and ``#`` comments are ignored.
    """
    text = decode_word_list(data).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return []
    is_csv = filename.lower().endswith(".csv") or (not filename.lower().endswith(".txt") and "," in lines[0])
    if not is_csv:
        return [(line.strip(), None, None, None) for line in lines]
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO("\n".join(lines)))]
    if rows and (rows[0][0].lower() in _HEADER_WORDS or (len(rows[0]) > 1 and rows[0][1].lower() == "action")):
        rows = rows[1:]
    out = []
    for row in rows:
        cells = [*row, "", "", ""][:4]
        if cells[0]:
            out.append((cells[0], cells[1].lower() or None, cells[2].lower() or None, cells[3] or None))
    return out


def import_rules(
    actor: Any, data: bytes, *, action: str, scope: str = "all", category: str = "", filename: str = ""
) -> int:
    """Add the words of a word list; returns how many were added (duplicates and existing ones skipped).

    CSV rows may carry their own action, scope and category; `action`/`scope`/`category`
    fill in what a row leaves empty (and are all a TXT list has).
    """
    require(actor, "moderation.manage")
    if action not in ACTIONS:
        raise DomainError("未知的处理方式。", "action_invalid", "action")
    if scope not in SCOPES:
        raise DomainError("未知的适用范围。", "scope_invalid", "scope")
    seen = set(db.session.execute(select(ModerationRule.pattern, ModerationRule.scope, ModerationRule.action)).all())
    added = 0
    for number, (word, row_action, row_scope, row_category) in enumerate(parse_word_list(data, filename), 1):
        act, sc, cat = row_action or action, row_scope or scope, row_category or category
        try:
            word, pattern = _validated(word, act, sc, cat)
        except DomainError as exc:
            raise DomainError(f"第 {number} 条：{exc.message}", exc.code, "file") from exc
        key = (pattern, sc, act)
        if key in seen:
            continue
        seen.add(key)
        db.session.add(
            ModerationRule(
                word=word,
                pattern=pattern,
                action=act,
                scope=sc,
                category=_category(cat),
                created_by_id=getattr(actor, "id", None),
            )
        )
        added += 1
    if added:
        db.session.flush()
        _changed()
        audit.log(actor, "rule_import", "rule", None, summary=f"导入 {added} 条（{filename or '词表'}）")
    return added


def export_rules(actor: Any, fmt: str = "csv", *, enabled_only: bool = True) -> str:
    """The rules as CSV (word,action,scope,category with a header) or TXT (words only)."""
    require(actor, "moderation.manage")
    stmt = select(ModerationRule).order_by(ModerationRule.id)
    if enabled_only:
        stmt = stmt.where(ModerationRule.enabled.is_(True))
    rules = db.session.scalars(stmt).all()
    if fmt == "txt":
        return "".join(f"{rule.word}\n" for rule in rules)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["word", "action", "scope", "category"])
    for rule in rules:
        writer.writerow([rule.word, rule.action, rule.scope, rule.category])
    return out.getvalue()
