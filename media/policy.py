"""Who may manage the media library and write an upload (rules for dangxiao.policy).

Imported by ``media.views.register_blueprints`` when the app is created, so the
rules exist before any view, CLI command or task asks.
"""

from __future__ import annotations

from typing import Any

from dangxiao.accounts.models import Role
from dangxiao.accounts.permissions import has_role
from dangxiao.policy import is_system, rule

MANAGE = "media.manage"
UPLOAD_WRITE = "media.upload.write"


@rule(MANAGE)
def _manage(actor: Any, obj: Any) -> bool:
    """Upload, import, retry, cancel, delete: the admins (and the operator at the shell)."""
    return has_role(actor, Role.admin)


@rule(UPLOAD_WRITE)
def _write_upload(actor: Any, upload: Any) -> bool:
    """Send chunks to / give up an unfinished upload: only the admin who started it."""
    if not has_role(actor, Role.admin):
        return False
    if is_system(actor):
        return True
    owner_id = getattr(upload, "owner_id", None)
    return owner_id is not None and owner_id == getattr(actor, "id", None)
