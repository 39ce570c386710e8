"""The audience page, host console and projector (stub until written)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("live_room", __name__, url_prefix="/live")
ACCESS: dict[str, str] = {}
