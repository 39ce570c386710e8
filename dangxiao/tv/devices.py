"""Station keys (stub until written)."""

from __future__ import annotations

from typing import Any


def load_device() -> Any:
    return None
