"""Working days and the first-answer deadline (SLA) of help requests.

due_at = the end (23:59:59 site-local time) of the Nth working day after the day the
request reached its handlers: filed on a Friday with N = 3, it is due on Wednesday night.
Weekends and HELPDESK_HOLIDAYS are off, HELPDESK_MAKEUP_WORKDAYS (调休上班 weekends) are
on. Both settings are ISO dates separated by commas or whitespace, or the path of a file
of such dates (``#`` starts a comment). A date that does not parse is a configuration
error raised at startup (:func:`check_config`) or on first use, never silently skipped:
a missing holiday would make every request of that week look late.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_

from dangxiao.db_types import aware, utcnow
from dangxiao.templating import site_zone
from forum.helpdesk.models import HelpRequest, RequestStatus

_SEPARATORS = re.compile(r"[\s,，;；]+")
_cache: dict[tuple[str, str, float], frozenset[date]] = {}
_lock = threading.Lock()
MAX_DAYS_SCANNED = 3660  # a holiday list covering everything is a configuration mistake, not a loop


class SLAConfigError(ValueError):
    """HELPDESK_HOLIDAYS or HELPDESK_MAKEUP_WORKDAYS does not parse."""


def _source(setting: str, value: str) -> tuple[str, float]:
    """(text, file mtime or 0): a path is read; anything else is the list itself."""
    candidate = value.strip()
    if candidate and "\n" not in candidate and "," not in candidate and os.path.isfile(candidate):
        try:
            with open(candidate, encoding="utf-8-sig") as fh:
                return fh.read(), os.path.getmtime(candidate)
        except OSError as exc:
            raise SLAConfigError(f"{setting}: cannot read {candidate}: {exc}") from exc
    return value, 0.0


def parse_dates(setting: str, value: str | None) -> frozenset[date]:
    """The dates of one setting, cached per (setting, value, file mtime)."""
    value = value or ""
    text, mtime = _source(setting, value)
    key = (setting, value, mtime)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    days: set[date] = set()
    for line in text.splitlines():
        for token in _SEPARATORS.split(line.split("#", 1)[0]):
            if not token:
                continue
            try:
                days.add(date.fromisoformat(token))
            except ValueError:
                raise SLAConfigError(f"{setting}: {token!r} is not a date (expected YYYY-MM-DD)") from None
    result = frozenset(days)
    with _lock:
        _cache[key] = result
    return result


def check_config(config: Any) -> None:
    """Raise SLAConfigError now for a bad holiday setting (call at startup)."""
    parse_dates("HELPDESK_HOLIDAYS", config.get("HELPDESK_HOLIDAYS"))
    parse_dates("HELPDESK_MAKEUP_WORKDAYS", config.get("HELPDESK_MAKEUP_WORKDAYS"))


def holidays() -> frozenset[date]:
    return parse_dates("HELPDESK_HOLIDAYS", current_app.config.get("HELPDESK_HOLIDAYS"))


def makeup_workdays() -> frozenset[date]:
    return parse_dates("HELPDESK_MAKEUP_WORKDAYS", current_app.config.get("HELPDESK_MAKEUP_WORKDAYS"))


def is_working_day(d: date) -> bool:
    if d in makeup_workdays():
        return True
    if d in holidays():
        return False
    return d.weekday() < 5


def due_at(start: datetime, days: int | None = None) -> datetime:
    """End of the `days`-th working day after `start`'s local date, as aware UTC."""
    if days is None:
        days = int(current_app.config["HELPDESK_SLA_WORKING_DAYS"])
    zone = site_zone()
    day = (aware(start) or utcnow()).astimezone(zone).date()
    counted = 0
    for _ in range(MAX_DAYS_SCANNED):
        if counted >= max(days, 0):
            break
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    else:
        raise SLAConfigError("HELPDESK_HOLIDAYS leaves no working day in ten years")
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone).astimezone(UTC)


def is_overdue(req: HelpRequest, now: datetime | None = None) -> bool:
    """Unanswered, not ended, not held, and past its deadline."""
    due = aware(req.due_at)
    return (
        due is not None
        and req.first_answer_at is None
        and not req.held
        and not RequestStatus(req.status).ended
        and due < (now or utcnow())
    )


def overdue_clause(now: datetime | None = None) -> ColumnElement[bool]:
    """:func:`is_overdue` as a WHERE clause over HelpRequest."""
    return and_(
        HelpRequest.first_answer_at.is_(None),
        HelpRequest.held.is_(False),
        HelpRequest.status.notin_([RequestStatus.resolved, RequestStatus.closed]),
        HelpRequest.due_at.is_not(None),
        HelpRequest.due_at < (now or utcnow()),
    )
