"""Placeholder: being written."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("help_faq", __name__, url_prefix="/help")
ACCESS: dict[str, str] = {}
