"""A notification is read (and marked read) by its recipient only."""

from __future__ import annotations

from typing import Any

from dangxiao.policy import rule


@rule("notification.read")
def _own(actor: Any, note: Any) -> bool:
    return note is not None and getattr(actor, "id", None) == note.user_id
