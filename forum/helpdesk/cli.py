"""`flask --app wsgi helpdesk ...` (being written)."""

from __future__ import annotations

from flask.cli import AppGroup

helpdesk_cli = AppGroup("helpdesk", help="流动党员之家：逾期提醒、热点问题。")
