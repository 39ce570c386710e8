"""党建论坛: boards and posts, moderation, flowing-member help desk, live Q&A."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Called by dangxiao.create_app; nothing is registered at import time."""
    from forum.helpdesk import bp as helpdesk_bp
    from forum.live import bp as live_bp
    from forum.views import bp as forum_bp

    for bp in (forum_bp, helpdesk_bp, live_bp):
        app.register_blueprint(bp)
