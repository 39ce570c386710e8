"""Jinja filters every template shares: local time, sizes, durations.

Times are stored in UTC and shown in the site's zone (``TIMEZONE``, default
Asia/Shanghai) with the zone's abbreviation left out: county users read 北京时间.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app


def site_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("TIMEZONE") or "Asia/Shanghai")


def local_today(now: datetime | None = None) -> date:
    """Today's date in the site's zone: deadlines, credit years and reminders are local dates."""
    return (now or datetime.now(UTC)).astimezone(site_zone()).date()


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """UTC (aware or SQLite-naive) → the site's zone, formatted; "—" for no value."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(site_zone()).strftime(fmt)


def isotime(value: datetime | None) -> str:
    """ISO 8601 with offset, for <time datetime=...> and the relative-time script."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(site_zone()).isoformat(timespec="seconds")


def human_size(n: int | float | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def duration(seconds: float | None) -> str:
    """Seconds → "m:ss" or "h:mm:ss"; "—" when unknown."""
    if seconds is None or seconds < 0:
        return "—"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def init_app(app: Flask) -> None:
    app.config.setdefault("TIMEZONE", "Asia/Shanghai")
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(isotime, "isotime")
    app.add_template_filter(human_size, "human_size")
    app.add_template_filter(duration, "duration")
