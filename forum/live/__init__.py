"""在线答疑: live Q&A sessions over Socket.IO, moderated before anything is shown.

Rooms: ``models`` (tables; the event log's guarantees are in its docstring), ``policy``,
``events`` (the per-session sequence, the event log, snapshots and resync), ``questions`` (ask,
vote and the hosts' actions; the keyword engine and rate limits), ``sessions`` (lifecycle),
``archive`` (答疑实录 topic and CSV), ``sockets`` (the "/live" namespace handlers), and the
views: ``session_views`` (list, forms, start/close, export), ``room_views`` (the audience page,
the host console, the projector).
"""

from __future__ import annotations

from types import ModuleType


def blueprint_modules() -> tuple[ModuleType, ...]:
    """Each module has `bp` and `ACCESS`; forum.register_blueprints registers them."""
    from forum.live import (  # noqa: F401 — sockets: handlers register on import
        policy,  # noqa: F401 — registers "live.*" rules
        room_views,
        session_views,
        sockets,
    )

    return (session_views, room_views)
