"""党建论坛: boards and posts, moderation, flowing-member help desk, live Q&A."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Called by dangxiao.create_app; nothing is registered at import time."""
    from dangxiao import access
    from forum import board_views, helpdesk, live, views
    from forum.moderation import queue_views
    from forum.moderation import views as moderation_views

    for module in (
        views,
        board_views,
        *helpdesk.blueprint_modules(),
        *live.blueprint_modules(),
        moderation_views,
        queue_views,
    ):
        access.register(app, module.bp, module.ACCESS)
