"""Column helpers shared by every package's models (accounts, media, later the school and forum)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import Enum


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def str_enum(kind: type[enum.Enum]) -> Enum:
    """A Python enum stored as VARCHAR(20) with its values checked: no native PG type to migrate."""
    return Enum(kind, native_enum=False, length=20, validate_strings=True)
