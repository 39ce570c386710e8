"""The audience page, the host console and the projector of one live Q&A session.

Each page is rendered from the same snapshot the Socket.IO "join" returns
(:func:`forum.live.events.state`), so it reads well before any script runs; ``static/js/live.js``
then joins the session's room with the snapshot's ``seq`` and applies what happened since.
Questions are plain text, escaped by Jinja here and set with ``textContent`` by the script.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from dangxiao.access import LOGIN, PUBLIC
from dangxiao.errors import Forbidden, NotFound
from dangxiao.policy import can
from dangxiao.queries import get_or_404
from dangxiao.templating import isotime, localtime
from forum.live import events, policy
from forum.live.models import LiveSession, QuestionStatus, SessionStatus

bp = Blueprint("live_room", __name__, url_prefix="/live")
# Public sessions are open to anonymous visitors; each view asks policy.may_view for the rest.
ACCESS = {"audience": PUBLIC, "screen": PUBLIC, "host": LOGIN}

MISSING = "答疑不存在或您无权查看。"
OPEN = (QuestionStatus.approved.value, QuestionStatus.answered.value)
SCREEN_TOP = 5


def _session(session_id: int) -> LiveSession:
    """The session when the visitor may see it; anonymous visitors of a closed audience log in first."""
    session = get_or_404(LiveSession, session_id, MISSING)
    if not policy.may_view(current_user, session):
        if not current_user.is_authenticated:
            raise _LoginFirst()
        raise NotFound(MISSING)
    return session


class _LoginFirst(Exception):
    """Raised by :func:`_session` for an anonymous visitor of a members or branch session."""


@bp.errorhandler(_LoginFirst)
def _login_first(_exc: _LoginFirst):
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def _status(value: Any) -> str:
    return getattr(value, "value", value) or ""


def _by_votes(questions: list[dict]) -> list[dict]:
    """Most votes first; among equals the earlier question first (it has waited longer). As live.js sorts."""
    return sorted(questions, key=lambda q: (-int(q.get("votes") or 0), q["id"]))


def _newest(questions: list[dict]) -> list[dict]:
    return sorted(questions, key=lambda q: q["id"], reverse=True)


def _when(iso: str | None) -> str:
    """ "HH:MM" in the site's zone for a question's ISO time (what the script shows as 刚刚 …)."""
    if not iso:
        return ""
    try:
        return localtime(datetime.fromisoformat(str(iso)), "%m-%d %H:%M")
    except ValueError:
        return ""


def _iso(value: str | None) -> str:
    """An aware ISO time for <time datetime> (SQLite's naive times are UTC)."""
    if not value:
        return ""
    try:
        return isotime(datetime.fromisoformat(str(value)))
    except ValueError:
        return ""


def _highlighted(state: dict, questions: list[dict]) -> dict | None:
    wanted = state.get("highlighted_id")
    return next((q for q in questions if q["id"] == wanted), None) if wanted else None


#: Question fields live.js reads; empty ones are left out (the page carries the list twice).
BOOT_FIELDS = ("id", "text", "status", "votes", "answer", "author", "anonymous", "mine", "voted", "created_at")
HOST_FIELDS = ("dismiss_reason", "original_text")


def _compact(q: dict) -> dict:
    return {key: q[key] for key in (*BOOT_FIELDS, *HOST_FIELDS) if q.get(key) or key in ("id", "status")}


def _boot(session: LiveSession, state: dict, role: str, **extra: Any) -> dict:
    """What live.js starts from: the snapshot (with its seq) and what this visitor may do."""
    snapshot = {**state, "questions": [_compact(q) for q in state.get("questions") or []]}
    return {
        "session_id": session.id,
        "role": role,
        "seq": int(state.get("seq") or 0),
        "state": snapshot,
        "max_chars": current_app.config.get("LIVE_QUESTION_MAX_CHARS", 300),
        "answer_max_chars": current_app.config.get("LIVE_ANSWER_MAX_CHARS", 2000),
        **extra,
    }


def _script_json(value: Any) -> Markup:
    """JSON for a <script type="application/json"> block: UTF-8 as is (half the bytes of \\uXXXX
    for Chinese), with the characters that could end the block or start markup escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return Markup(text)  # noqa: S704 — every character that could end the block is escaped above


def _page(template: str, session: LiveSession, role: str, **context: Any):
    state = events.state(current_user, session)
    questions = list(state.get("questions") or [])
    shown = [q for q in questions if _status(q.get("status")) in OPEN]
    boot = _boot(session, state, role, **context.pop("boot_extra", {}))
    return render_template(
        template,
        session=session,
        state=state,
        questions=questions,
        shown=_by_votes(shown),
        newest=_newest(shown),
        highlighted=_highlighted(state, questions),
        live_status=_status(state.get("status")) or _status(session.status),
        status_labels={s.value: s.label for s in SessionStatus},
        question_labels={s.value: s.label for s in QuestionStatus},
        when=_when,
        iso=_iso,
        boot=boot,
        boot_json=_script_json(boot),
        transport=request.args.get("transport") == "polling",
        **context,
    )


@bp.get("/<int:session_id>")
def audience(session_id: int):
    session = _session(session_id)
    can_ask = can(current_user, "live.ask", session)
    can_vote = can(current_user, "live.vote", session)
    login_url = url_for("accounts.login", next=request.full_path.rstrip("?"))
    is_host = policy.may_host(current_user, session)
    return _page(
        "live/room.html",
        session,
        "audience",
        can_ask=can_ask,
        can_vote=can_vote,
        login_url=login_url,
        is_host=is_host,
        boot_extra={
            "can_ask": can_ask,
            "can_vote": can_vote,
            "allow_anonymous": bool(session.allow_anonymous),
            "login_url": login_url,
        },
    )


@bp.get("/<int:session_id>/host")
def host(session_id: int):
    session = get_or_404(LiveSession, session_id, MISSING)
    if not policy.may_host(current_user, session):
        if policy.may_view(current_user, session):
            raise Forbidden("只有本场答疑的主持人可以进入主持台。")
        raise NotFound(MISSING)
    views = current_app.view_functions
    return _page(
        "live/host.html",
        session,
        "host",
        can_start="live.start" in views,
        can_close="live.close" in views,
        can_manage=can(current_user, "live.manage", session),
    )


@bp.get("/<int:session_id>/screen")
def screen(session_id: int):
    session = _session(session_id)
    return _page("live/screen.html", session, "screen", top=SCREEN_TOP)
