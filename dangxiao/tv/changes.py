"""Catalogue version and tombstones (stub until written)."""

from __future__ import annotations


def watch() -> None:
    return None
