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


class LabelledEnum(enum.StrEnum):
    """A stored value with the Chinese label the UI shows: ``pending = "pending", "待审核"``.

    One declaration instead of an enum, a labels dict and a ``*_label`` property per model.
    """

    label: str

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """(value, label) pairs for select fields and filters."""
        return [(member.value, member.label) for member in cls]


def str_enum(kind: type[enum.Enum]) -> Enum:
    """A Python enum stored as VARCHAR(20) with its values checked: no native PG type to migrate."""
    return Enum(kind, native_enum=False, length=20, validate_strings=True)
