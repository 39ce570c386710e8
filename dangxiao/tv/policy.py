"""Set-top box policy rules (see dangxiao.policy): admin pages, the CLI and the reports ask these."""

from __future__ import annotations

from typing import Any

from dangxiao.accounts.models import Role
from dangxiao.accounts.permissions import has_role
from dangxiao.policy import is_system, rule


@rule("tv.manage_devices")
def manage_devices(actor: Any, _obj: Any = None) -> bool:
    """Register stations, issue, rotate and revoke keys: admins (and the CLI)."""
    return is_system(actor) or has_role(actor, Role.admin)


@rule("tv.view_activity")
def view_activity(actor: Any, branch_id: Any) -> bool:
    """Read the stations' activity of a branch: a secretary whose scope covers it, or an admin."""
    return branch_id is not None and has_role(actor, Role.branch_secretary, int(branch_id))


@rule("tv.credit_play")
def credit_play(actor: Any, play: Any) -> bool:
    """Turn a group session at a station into offline credits: a secretary over the station's branch."""
    device = getattr(play, "device", None)
    branch_id = getattr(device, "branch_id", None)
    return branch_id is not None and has_role(actor, Role.branch_secretary, branch_id)
