"""流动党员之家: flowing members' help requests, routed, answered on an SLA, with FAQ and statistics.

Services (no Flask request in them): requests (filing and the status machine), routing,
handlers (who sees and answers what), sla (working days), attachments, faq, stats, hot
(hot topics), regions (the 省/市/县 table). Views: views (members and handlers),
faq_views, route_views (admins), stats_views (statistics and hot topics).
"""

from __future__ import annotations

from types import ModuleType


def blueprint_modules() -> tuple[ModuleType, ...]:
    """Each module has `bp` and `ACCESS`; forum.register_blueprints registers them."""
    from forum.helpdesk import faq_views, route_views, stats_views, views

    return (views, faq_views, route_views, stats_views)
