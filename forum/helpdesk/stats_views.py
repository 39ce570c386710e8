"""Placeholder: being written."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("help_stats", __name__, url_prefix="/help/stats")
ACCESS: dict[str, str] = {}
