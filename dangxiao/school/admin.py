"""Placeholder: filled in by its owner in this issue."""

from __future__ import annotations

BLUEPRINTS: list = []
