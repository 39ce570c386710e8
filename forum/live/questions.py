"""Asking, voting and the hosts' actions on the questions of a live session.

Each service takes the acting user first, checks the policy and that the session is live,
makes ONE conditional change (an UPDATE … WHERE status IN (…) or a unique insert/delete, so
two hosts clicking at once cannot both win) and records its events in the same transaction
(:mod:`forum.live.events`); callers wrap it in ``atomic()``, the broadcast follows the commit.

Keyword engine (scope "live") on every question, edited question and answer: ``block`` refuses
naming the words; ``censor`` masks; ``review`` and ``flag`` keep a question pending for the hosts
even in auto mode (an answer or an edit is the hosts' own moderation: only block and censor apply).

Every function taking a question id also takes an optional ``session_id``: a socket knows the
session it joined, and a question of another session is then ``question_not_found``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from flask import current_app
from limits import parse
from sqlalchemy import delete, update

from dangxiao.db_types import utcnow
from dangxiao.errors import DomainError, NotFound
from dangxiao.extensions import db, limiter
from dangxiao.policy import require
from dangxiao.queries import MAX_ID, insert_ignore
from dangxiao.text.clean import clean_line, strip_invisible
from forum.limits import RateLimited, count_chars
from forum.live import events
from forum.live.models import LiveQuestion, LiveSession, LiveVote, ModerationMode, QuestionStatus, SessionStatus
from forum.moderation import rules

MIN_CHARS = 2
REASON_MAX = 200  # LiveQuestion.dismiss_reason is String(200)
OPEN = (QuestionStatus.approved, QuestionStatus.answered)


# --- loading and checks ------------------------------------------------------------------------


def _valid_id(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 0 < value <= MAX_ID


def get_session(session_id: Any) -> LiveSession:
    """The session, or 404 ``session_not_found`` (also for a forged, non-integer id)."""
    session = db.session.get(LiveSession, session_id) if _valid_id(session_id) else None
    if session is None:
        raise NotFound("这场答疑不存在或已被删除。", "session_not_found")
    return session


def get_question(question_id: Any, session_id: Any = None) -> LiveQuestion:
    """The question (of `session_id` when given), or 404 ``question_not_found``."""
    q = db.session.get(LiveQuestion, question_id) if _valid_id(question_id) else None
    if q is None or (session_id is not None and q.session_id != session_id):
        raise NotFound("该提问不存在或已被删除。", "question_not_found")
    return q


def _require_live(session: LiveSession) -> None:
    if session.status != SessionStatus.live:
        message = "答疑尚未开始。" if session.status == SessionStatus.scheduled else "答疑已结束。"
        raise DomainError(message, "session_not_live")


def _session_for(actor: Any, action: str, session: LiveSession) -> LiveSession:
    require(actor, action, session, "您无权在这场答疑中进行此操作。")
    _require_live(session)
    return session


def _hosted_question(actor: Any, question_id: Any, session_id: Any) -> tuple[LiveSession, LiveQuestion]:
    q = get_question(question_id, session_id)
    session = _session_for(actor, "live.host", get_session(q.session_id))
    return session, q


def _hit(bucket: str, setting: str, user_id: int) -> None:
    """One use of the member's allowance in the app limiter's storage (Redis when configured)."""
    if not limiter.enabled:
        return
    item = parse(current_app.config[setting])
    if not limiter.limiter.hit(item, "live", bucket, str(user_id)):
        raise RateLimited(f"操作过于频繁（{current_app.config[setting]}），请稍后再试。")


# --- text --------------------------------------------------------------------------------------


def clean_text(raw: Any, field: str, label: str, max_chars: int, min_chars: int = 1) -> str:
    """Newlines kept (CRLF → LF), invisible characters gone; length in characters a reader sees."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise DomainError(f"{label}必须是文字。", f"{field}_invalid", field)
    if len(raw) > 4 * max_chars:  # far over whatever it holds: refuse before any work
        raise DomainError(f"{label}不能超过 {max_chars} 个字。", "too_long", field)
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = strip_invisible(text, keep_newlines=True).strip()
    count = count_chars(text)
    if count == 0:
        raise DomainError(f"请填写{label}（空格和不可见字符不算）。", "too_short", field)
    if count < min_chars:
        raise DomainError(f"{label}至少 {min_chars} 个字。", "too_short", field)
    if count > max_chars:
        raise DomainError(f"{label}不能超过 {max_chars} 个字，当前 {count} 个。", "too_long", field)
    return text


def screen(text: str, field: str) -> tuple[str, str]:
    """(text with censored words masked, verdict action); ``blocked`` names the words."""
    verdict = rules.check(text, "live", record=True)
    if verdict.action == "block":
        words = list(dict.fromkeys(m.rule for m in verdict.matches if m.action == "block"))
        raise DomainError(f"内容含有不允许发布的词语：{'、'.join(words)}。请修改后再提交。", "blocked", field)
    if any(m.action == "censor" for m in verdict.matches):
        text = verdict.censored
    return text, verdict.action


def _question_text(raw: Any) -> str:
    return clean_text(raw, "text", "问题", int(current_app.config["LIVE_QUESTION_MAX_CHARS"]), MIN_CHARS)


# --- members -----------------------------------------------------------------------------------


def ask(actor: Any, session_id: Any, text: Any, anonymous: bool = False) -> LiveQuestion:
    """A new question: approved at once in auto mode when the keyword engine lets it through,
    else pending (seen by its asker and the hosts). Refusals write nothing."""
    session = _session_for(actor, "live.ask", get_session(session_id))
    cleaned = _question_text(text)
    _hit("ask", "LIVE_ASK_RATE", actor.id)
    cleaned, action = screen(cleaned, "text")
    now = utcnow()
    approve = session.moderation == ModerationMode.auto and action in ("allow", "censor")
    q = LiveQuestion(
        session_id=session.id,
        author_id=actor.id,
        anonymous=bool(anonymous) and session.allow_anonymous,
        text=cleaned,
        status=QuestionStatus.approved if approve else QuestionStatus.pending,
        created_at=now,
        approved_at=now if approve else None,
    )
    db.session.add(q)
    db.session.flush()
    events.record_question(q)
    return q


def _open_question(actor: Any, question_id: Any, session_id: Any) -> LiveQuestion:
    q = get_question(question_id, session_id)
    session = get_session(q.session_id)
    require(actor, "live.vote", session, "您无权在这场答疑中投票。")
    if q.status not in OPEN:
        raise DomainError("该提问尚未通过审核，不能投票。", "question_not_open")
    _require_live(session)
    return q


def _set_votes(q: LiveQuestion, delta: int) -> int:
    votes = db.session.execute(
        update(LiveQuestion)
        .where(LiveQuestion.id == q.id)
        .values(votes=LiveQuestion.votes + delta)
        .returning(LiveQuestion.votes)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    db.session.expire(q, ["votes"])
    events.record(q.session_id, "votes", {"question_id": q.id, "votes": votes}, "all")
    return votes


def vote(actor: Any, question_id: Any, session_id: Any = None) -> int:
    """One vote per member and question (the unique row decides a race); returns the new tally."""
    q = _open_question(actor, question_id, session_id)
    _hit("vote", "LIVE_VOTE_RATE", actor.id)
    # RETURNING, not rowcount: with a serial id PostgreSQL's driver reports no rowcount here.
    inserted = db.session.execute(
        insert_ignore(LiveVote).values(question_id=q.id, user_id=actor.id, created_at=utcnow()).returning(LiveVote.id)
    ).scalar()
    if inserted is None:
        raise DomainError("您已经为这个问题投过票了。", "already_voted")
    return _set_votes(q, +1)


def unvote(actor: Any, question_id: Any, session_id: Any = None) -> int:
    """Take one's vote back; returns the new tally."""
    q = _open_question(actor, question_id, session_id)
    _hit("vote", "LIVE_VOTE_RATE", actor.id)
    deleted = db.session.execute(
        delete(LiveVote)
        .where(LiveVote.question_id == q.id, LiveVote.user_id == actor.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if deleted != 1:
        raise DomainError("您还没有为这个问题投票。", "not_voted")
    return _set_votes(q, -1)


# --- hosts -------------------------------------------------------------------------------------


def _transition(q: LiveQuestion, allowed: tuple[QuestionStatus, ...], message: str, **values: Any) -> None:
    """Move q only if it is still in an allowed status (a second host's click loses cleanly)."""
    if q.status not in allowed:
        raise DomainError(message, "question_state")
    changed = db.session.execute(
        update(LiveQuestion)
        .where(LiveQuestion.id == q.id, LiveQuestion.status.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise DomainError("该提问刚被其他主持人处理过，请刷新后再试。", "question_changed")
    db.session.refresh(q)


def _set_highlight(session: LiveSession, question_id: int | None) -> None:
    db.session.execute(
        update(LiveSession)
        .where(LiveSession.id == session.id)
        .values(highlighted_id=question_id)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(session, ["highlighted_id"])
    events.record(session.id, "highlight", {"question_id": question_id}, "all")


def approve(actor: Any, question_id: Any, text: Any = None, session_id: Any = None) -> LiveQuestion:
    """Show a pending question to everyone; with `text`, the host's edit is shown and the asker's
    words are kept in original_text."""
    _session, q = _hosted_question(actor, question_id, session_id)
    values: dict[str, Any] = {
        "status": QuestionStatus.approved,
        "moderated_by_id": actor.id,
        "approved_at": utcnow(),
    }
    if text is not None:
        edited, _action = screen(_question_text(text), "text")
        if edited != q.text:
            values.update(text=edited, original_text=q.original_text or q.text)
    _transition(q, (QuestionStatus.pending,), "只有待审核的提问可以通过。", **values)
    events.record_question(q)
    return q


def dismiss(actor: Any, question_id: Any, reason: Any, session_id: Any = None) -> LiveQuestion:
    """Not taken: the asker (and the hosts) see it dismissed with the reason; if it was public,
    the audience is told to drop it (and it leaves the projector)."""
    session, q = _hosted_question(actor, question_id, session_id)
    why = clean_line(reason, "reason", "未采用的理由", REASON_MAX)
    was_public = q.status in OPEN
    _transition(
        q,
        (QuestionStatus.pending, *OPEN),
        "该提问已是未采用状态。",
        status=QuestionStatus.dismissed,
        dismiss_reason=why,
        moderated_by_id=actor.id,
    )
    if was_public:
        events.record(session.id, "removed", {"question_id": q.id}, "all")
    if session.highlighted_id == q.id:
        _set_highlight(session, None)
    events.record_question(q)
    return q


def highlight(actor: Any, question_id: Any, session_id: Any = None) -> int | None:
    """Put an approved or answered question on the projector, or clear it (`question_id` None:
    then `session_id` is required). Returns the highlighted id."""
    if question_id is None:
        session = _session_for(actor, "live.host", get_session(session_id))
    else:
        session, q = _hosted_question(actor, question_id, session_id)
        if q.status not in OPEN:
            raise DomainError("只有已通过的提问可以置顶展示。", "question_not_open")
    _set_highlight(session, question_id)
    return question_id


def answer(actor: Any, question_id: Any, answer_text: Any, session_id: Any = None) -> LiveQuestion:
    """Mark answered with the host's typed answer (answering again replaces it)."""
    _session, q = _hosted_question(actor, question_id, session_id)
    text = clean_text(answer_text, "answer", "回答", int(current_app.config["LIVE_ANSWER_MAX_CHARS"]))
    text, _action = screen(text, "answer")
    _transition(
        q,
        OPEN,
        "只有已通过的提问可以回答。",
        status=QuestionStatus.answered,
        answer=text,
        answered_by_id=actor.id,
        answered_at=utcnow(),
    )
    events.record_question(q)
    return q


def reopen(actor: Any, question_id: Any, session_id: Any = None) -> LiveQuestion:
    """Answered or dismissed → approved again (a dismissal's reason is cleared; an answer's text
    is kept for the host to edit, the status says it is open again)."""
    _session, q = _hosted_question(actor, question_id, session_id)
    values: dict[str, Any] = {"status": QuestionStatus.approved, "dismiss_reason": "", "moderated_by_id": actor.id}
    if q.status == QuestionStatus.dismissed and q.approved_at is None:
        values["approved_at"] = utcnow()
    _transition(
        q, (QuestionStatus.answered, QuestionStatus.dismissed), "只有已回答或未采用的提问可以重新打开。", **values
    )
    events.record_question(q)
    return q
