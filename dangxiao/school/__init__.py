"""网上党校: catalogue, lesson player and watch progress, quizzes, the 学时 ledger, branch reports.

Rooms: ``models``/``quiz_models``/``credit_models`` (tables), ``visibility`` (who sees which
course), ``catalogue`` (categories, courses, lessons, assignments), ``watch`` over the pure
``intervals`` core (credit that cannot be gamed), ``quizzes``/``question_bank``, ``credits``
(ledger and rules), ``reports``, and the views: ``pages`` (members), ``admin`` (catalogue),
``api`` (the player API), ``quiz_views``, ``report_views``.
"""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Called by dangxiao.create_app: policy rules first, then each blueprint with its access rows."""
    from dangxiao import access
    from dangxiao.school import admin, api, files, pages, quiz_views, report_views
    from dangxiao.school import policy as school_policy  # noqa: F401 — registers "school.*" rules

    for module in (pages, admin, files, api, quiz_views, report_views):
        for blueprint, rows in module.BLUEPRINTS:
            access.register(app, blueprint, rows)
