"""Help requests: filing and reading (services: actor first, flush only); the status machine
after filing is forum.helpdesk.workflow, the review decisions forum.helpdesk.review.

The keyword engine (scope "help") reads every description and message: ``block`` refuses
naming the words, ``review`` holds the request (or message) for a moderator in the shared
review queue before any handler sees it, ``censor`` masks, ``tag`` suggests the category
(and sets it when the member left 其他). ``flag`` does nothing more here: requests are
private and read by their handlers anyway. Region words in the text only feed
:func:`suggest`: the region the member picked always wins.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.templating import localtime
from dangxiao.text.clean import strip_invisible
from forum import limits
from forum.helpdesk import attachments, regions, routing, sla, steps
from forum.helpdesk.models import (
    HelpCategory,
    HelpEvent,
    HelpMessage,
    HelpRequest,
    MessageState,
    RequestStatus,
)
from forum.moderation import queue, rules
from forum.moderation.engine import Verdict

TITLE_CHARS = 30


# --- text ------------------------------------------------------------------------------------


def meaningful_chars(text: str) -> int:
    """Letters, digits and CJK characters: what makes a description say something (emoji do not)."""
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LN")


def clean_text(raw: object, field: str = "description", label: str = "求助内容") -> str:
    """A description or message as stored: plain text, NFC, LF newlines, invisible characters gone.

    At least HELPDESK_MIN_CHARS letters/digits/CJK (so emoji or zero-width characters alone
    are "too_short"), at most HELPDESK_MAX_CHARS visible characters; text far over the limit
    is refused before any work (like forum.limits.clean_body).
    """
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise DomainError(f"{label}必须是文字。", "invalid", field)
    low, high = steps.cfg("HELPDESK_MIN_CHARS"), steps.cfg("HELPDESK_MAX_CHARS")
    if len(raw) > 4 * high:
        raise DomainError(f"{label}不能超过 {high} 个字，请删减后再提交。", "too_long", field)
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = strip_invisible(text, keep_newlines=True)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()
    if meaningful_chars(text) < low:
        raise DomainError(
            f"{label}至少 {low} 个字（表情、空格和不可见字符不算），请说清楚遇到的问题。", "too_short", field
        )
    count = limits.count_chars(text)
    if count > high:
        raise DomainError(f"{label}不能超过 {high} 个字，当前 {count} 个，请删减后再提交。", "too_long", field)
    return text


def make_title(text: str) -> str:
    """The first ~30 visible characters of the first non-empty line (lists show it)."""
    first = next((line for line in text.split("\n") if line.strip()), "")
    first = " ".join(first.split())
    return first if len(first) <= TITLE_CHARS else first[:TITLE_CHARS] + "…"


def _category(raw: object) -> HelpCategory:
    try:
        return HelpCategory(raw)
    except ValueError:
        raise DomainError("请选择求助类别。", "category_invalid", "category") from None


_BY_NAME = {c.value: c for c in HelpCategory} | {c.label: c for c in HelpCategory}


def category_from_tags(tags: Iterable[str]) -> HelpCategory | None:
    """The first tag naming a category (by label 组织关系转接 or value transfer)."""
    for tag in tags:
        found = _BY_NAME.get((tag or "").strip()) or _BY_NAME.get((tag or "").strip().lower())
        if found is not None:
            return found
    return None


def screen(text: str, field: str) -> tuple[str, Verdict]:
    """The keyword engine on `text`: block refuses naming the words; censor masks (lengths kept)."""
    verdict = rules.check(text, "help", record=True)
    if verdict.action == "block":
        words = list(dict.fromkeys(m.rule for m in verdict.matches if m.action == "block"))
        raise DomainError(f"内容含有不允许发布的词语：{'、'.join(words)}。请修改后再提交。", "blocked", field)
    if any(m.action == "censor" for m in verdict.matches):
        text = verdict.censored
    return text, verdict


def suggest(text: str) -> dict:
    """What the typed text suggests: a category from tag rules, regions it names (the form's hints)."""
    text = (text or "")[: 4 * steps.cfg("HELPDESK_MAX_CHARS")]
    found = category_from_tags(rules.check(text, "help").tags) if text.strip() else None
    codes = regions.table().mentions(text)[:5] if text else []
    return {
        "category": found.value if found else None,
        "category_label": found.label if found else None,
        "regions": [{"code": code, "label": regions.label(code)} for code in codes],
    }


# --- filing ----------------------------------------------------------------------------------


def _check_recent_requests(actor: Any, digest: str, now: datetime) -> None:
    """A double submit (same folded text within HELPDESK_DUPLICATE_HOURS), then the daily allowance."""
    since = now - timedelta(hours=steps.cfg("HELPDESK_DUPLICATE_HOURS"))
    earlier = db.session.execute(
        select(HelpRequest.id, HelpRequest.created_at)
        .where(
            HelpRequest.requester_id == actor.id,
            HelpRequest.content_hash == digest,
            HelpRequest.created_at > since,
        )
        .order_by(HelpRequest.created_at.desc())
        .limit(1)
    ).first()
    if earlier is not None:
        raise DomainError(
            f"您已于 {localtime(earlier.created_at)} 提交过相同的求助（#{earlier.id}），请勿重复提交，"
            "可在该求助中补充说明。",
            "duplicate",
            "description",
        )
    limit = steps.cfg("HELPDESK_REQUESTS_PER_DAY")
    used = db.session.scalar(
        select(func.count(HelpRequest.id)).where(
            HelpRequest.requester_id == actor.id, HelpRequest.created_at > now - timedelta(days=1)
        )
    )
    if (used or 0) >= limit:
        raise limits.RateLimited(f"提交求助过于频繁：每位党员每天最多提交 {limit} 条求助，请明天再试。")


def file_request(
    actor: Any, category: str, region_code: str, description: str, uploads: Iterable[tuple[str, bytes]] = ()
) -> HelpRequest:
    """File a request: checked, screened, routed, its SLA started and its handlers told (unless held).

    Cheap refusals come first (text, category, region, files, duplicates, allowance) so a
    refused form costs no keyword scan and writes nothing.
    """
    require(actor, "help.file", None, "请先在个人资料中设置所在党支部，再提交求助。")
    text = clean_text(description, "description", "求助内容")
    picked = _category(category)
    code = regions.validate_leaf(region_code)
    files = attachments.checked(uploads)
    digest = limits.content_hash(text)
    now = utcnow()
    _check_recent_requests(actor, digest, now)
    text, verdict = screen(text, "description")
    suggested = category_from_tags(verdict.tags)
    chosen = suggested if picked == HelpCategory.other and suggested is not None else picked
    held = verdict.action == "review"
    branch_id, route = routing.resolve(chosen, code, actor.branch_id)
    req = HelpRequest(
        requester_id=actor.id,
        home_branch_id=actor.branch_id,
        category=chosen,
        suggested_category=suggested,
        region_code=code,
        title=make_title(text),
        description=text,
        content_hash=digest,
        status=RequestStatus.pending,
        held=held,
        handling_branch_id=branch_id,
        route_id=route.id if route is not None else None,
        created_at=now,
        updated_at=now,
        due_at=None if held else sla.due_at(now),
    )
    db.session.add(req)
    db.session.flush()
    steps.event(req, actor.id, "filed", None, RequestStatus.pending, to_branch_id=branch_id)
    if held:
        steps.event(req, None, "held", RequestStatus.pending, RequestStatus.pending)
        queue.enqueue(
            "help",
            req.id,
            "rule",
            author_id=actor.id,
            branch_id=actor.branch_id,
            board_id=None,
            title=req.title,
            text=text,
            matches=verdict.as_dict()["matches"],
        )
    attachments.store(actor, req, files)
    if not held:
        steps.notify_handlers(req, f"新的求助 {steps.label(req)}（{chosen.label}，{regions.label(code)}）待受理。")
    db.session.flush()
    return req


# --- reading ---------------------------------------------------------------------------------


def messages_for(actor: Any, req: HelpRequest) -> list[HelpMessage]:
    """Published messages, plus the actor's own held or refused ones (marked by their state)."""
    return list(
        db.session.scalars(
            select(HelpMessage)
            .where(
                HelpMessage.request_id == req.id,
                (HelpMessage.state == MessageState.published) | (HelpMessage.author_id == steps.actor_id(actor)),
            )
            .order_by(HelpMessage.created_at, HelpMessage.id)
        )
    )


def events_for(req: HelpRequest) -> list[HelpEvent]:
    return list(
        db.session.scalars(
            select(HelpEvent).where(HelpEvent.request_id == req.id).order_by(HelpEvent.created_at, HelpEvent.id)
        )
    )
