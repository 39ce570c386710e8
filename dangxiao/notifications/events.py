"""Socket.IO: a logged-in browser joins its own room, where notify() pushes arrive."""

from __future__ import annotations

from flask_login import current_user
from flask_socketio import join_room

from dangxiao.access import LOGIN
from dangxiao.notifications.service import room
from dangxiao.realtime import on


@on("connect", access=LOGIN)
def connect(auth=None) -> None:
    join_room(room(current_user.id))
