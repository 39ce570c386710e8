"""党建论坛: boards and posts, moderation, flowing-member help desk, live Q&A."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Called by dangxiao.create_app; nothing is registered at import time."""
    from dangxiao import access
    from forum import helpdesk, live, views
    from forum.moderation import views as moderation_views

    for module in (views, helpdesk, live):
        access.register(app, module.bp, module.ACCESS)
    access.register(app, moderation_views.bp, moderation_views.ACCESS)
