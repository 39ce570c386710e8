"""Spreadsheet exports: the one guard every CSV/XLSX cell typed by users goes through."""

from __future__ import annotations

from typing import Any

#: What makes Excel or WPS read a cell as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text a spreadsheet could run as a formula gets a leading '; other values pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
