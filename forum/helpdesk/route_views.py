"""Placeholder: being written."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("help_routes", __name__, url_prefix="/admin/help")
ACCESS: dict[str, str] = {}
