"""(stub until written)"""

from __future__ import annotations

BLUEPRINTS: list = []
