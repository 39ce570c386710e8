"""Demo receiving station for ``seed-demo``: one station in a village branch, with a known key.

The key is fixed (config ``TV_DEMO_KEY``, else :data:`DEMO_KEY`) so the demo's box, VLC or
TVBox app can be pointed at ``/tv/k/<key>/`` straight away; an operator rotates it with
``flask devices rotate``. Idempotent: a station that exists (by name or by key) is left alone.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from dangxiao.accounts.branches import find_branch_by_name
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from dangxiao.tv import devices
from dangxiao.tv.models import Device

DEMO_KEY = "demo-station-key-please-rotate"
# (name, village, branch, contact)
STATIONS = [("东街村远程教育接收站", "城关镇东街村", "城关镇东街村党支部", "村委会 值班电话 0571-0000000")]


def demo_key() -> str:
    return current_app.config.get("TV_DEMO_KEY") or DEMO_KEY


def seed_tv() -> list[str]:
    """Register the demo station if missing; returns lines to print."""
    key = demo_key()
    lines = ["远程教育接收站点："]
    if not devices.valid_key(key):
        return [*lines, "  （TV_DEMO_KEY 不是有效的密钥：只能由 20–100 个字母、数字、“-”或“_”组成；未登记演示站点）"]
    with atomic():
        for name, village, branch_name, contact in STATIONS:
            existing = devices.get_device_by_name(name) or db.session.scalar(
                select(Device).where(Device.key_hash == devices.hash_key(key))
            )
            if existing is not None:
                lines.append(f"  “{existing.name}”已存在（密钥未改动）")
                continue
            branch = find_branch_by_name(branch_name)
            if branch is None:
                lines.append(f"  （未找到组织“{branch_name}”，未登记“{name}”）")
                continue
            devices.create_device(SYSTEM, name, branch.id, village, contact, key=key)
            lines.append(f"  “{name}”已登记（{branch_name}），演示密钥：{key}")
            lines.append(f"  机顶盒地址：/tv/k/{key}/tv/ ，M3U：/tv/k/{key}/tv/playlist.m3u （正式使用前请更换密钥）")
    return lines
