"""The arithmetic of watch credit: played intervals of a lesson's timeline, pure Python.

A report from the player lists intervals ``[from, to]`` (seconds of the lesson's timeline) it
says it played since the previous report. The server keeps, per member and lesson, the
*union* of what it has credited so far; a report can only add coverage, and only so much:

1. **Validate** (:func:`validate`): a list of at most ``MAX_ITEMS`` pairs of finite numbers
   (no booleans, no NaN/Infinity, no integers too big for a float) with
   ``0 <= from < to <= duration + TOLERANCE``; the end is then clipped to the duration (a
   player's clock runs a few frames past the end of the stream). One bad pair refuses the
   whole report: a player that sends garbage is broken or forged, and a partial credit
   would hide that.
2. **Union** (:func:`union`): sort and merge overlapping or touching intervals. The stored
   list is always a union (sorted, disjoint), so :func:`measure` is a plain sum.
3. **Subtract** what is already credited (:func:`subtract`): replaying a part of the lesson
   earns nothing again, however many times it is reported.
4. **Trim to the budget** (:func:`trim_to_budget`): keep the new coverage in timeline order
   until the budget (seconds the wall clock allows, see ``watch``) is spent; the rest is
   dropped, not saved for later, so a burst of forged reports cannot bank credit.
5. **Crumbs** (``MIN_PIECE``): a new piece shorter than one second that touches nothing
   already credited is dropped. An honest player loses at most that second (played, then
   sought away), but a script cannot grow the stored list to millions of slivers: every
   stored interval is then at least ``MIN_PIECE`` long, so a lesson of *d* seconds holds at
   most *d* / ``MIN_PIECE`` intervals.

Times are rounded to milliseconds (``ROUND``) so the stored JSON stays short and the same
number always compares equal after a round trip through the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

Interval = tuple[float, float]

MAX_ITEMS = 200  # intervals in one report (15 s of honest playback holds a handful)
TOLERANCE = 1.0  # seconds an interval may run past the duration before it is refused
MIN_PIECE = 1.0  # shortest new piece kept when it does not extend credited coverage
ROUND = 3  # decimals kept (milliseconds)
_TOUCH = 1e-6  # intervals closer than this are one


class IntervalError(ValueError):
    """A report's intervals cannot be read; `code` is the API error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def finite_number(value: object) -> float | None:
    """`value` as a finite float, or None (booleans, strings, NaN, ±Infinity, 10**400 …)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def validate(
    raw: object, duration: float, *, max_items: int = MAX_ITEMS, tolerance: float = TOLERANCE
) -> list[Interval]:
    """The report's intervals as (from, to) floats clipped to `duration`, or IntervalError."""
    if not isinstance(raw, list):
        raise IntervalError("intervals_invalid", "播放区间必须是 [[起点, 终点], …] 形式的列表。")
    if len(raw) > max_items:
        raise IntervalError("intervals_too_many", f"一次最多报告 {max_items} 个播放区间。")
    result: list[Interval] = []
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise IntervalError("interval_invalid", "每个播放区间必须是 [起点, 终点] 两个数。")
        start, end = finite_number(item[0]), finite_number(item[1])
        if start is None or end is None:
            raise IntervalError("interval_invalid", "播放区间必须是有限的数字。")
        if start < 0 or start >= end or end > duration + tolerance:
            raise IntervalError("interval_invalid", "播放区间无效：必须在 0 与课时时长之间，且起点小于终点。")
        end = min(end, duration)
        if start < end:  # a pair wholly inside the tolerance past the end plays nothing
            result.append((round(start, ROUND), round(end, ROUND)))
    return result


def union(intervals: Iterable[Sequence[float]]) -> list[Interval]:
    """Sorted, disjoint intervals covering exactly what `intervals` cover (touching ones merged)."""
    merged: list[Interval] = []
    for start, end in sorted((float(a), float(b)) for a, b in intervals if b > a):
        if merged and start <= merged[-1][1] + _TOUCH:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def measure(intervals: Iterable[Sequence[float]]) -> float:
    """Seconds covered (overlaps counted once)."""
    return sum(end - start for start, end in union(intervals))


def subtract(new: Iterable[Sequence[float]], credited: Sequence[Sequence[float]]) -> list[Interval]:
    """The parts of `new` not covered by `credited` (a union), as a union."""
    pieces: list[Interval] = []
    taken = union(credited)
    for start, end in union(new):
        cursor = start
        for c_start, c_end in taken:
            if c_end <= cursor:
                continue
            if c_start >= end:
                break
            if c_start > cursor:
                pieces.append((cursor, c_start))
            cursor = max(cursor, c_end)
            if cursor >= end:
                break
        if cursor < end:
            pieces.append((cursor, end))
    return [(a, b) for a, b in pieces if b - a > _TOUCH]


def trim_to_budget(pieces: Sequence[Interval], budget: float) -> list[Interval]:
    """The first `budget` seconds of `pieces` (a union) in timeline order; the rest dropped."""
    kept: list[Interval] = []
    left = max(0.0, budget)
    for start, end in pieces:
        if left <= _TOUCH:
            break
        take = min(end - start, left)
        kept.append((start, round(start + take, ROUND)))
        left -= take
    return [(a, b) for a, b in kept if b - a > _TOUCH]


def _crumbs_dropped(pieces: Sequence[Interval], credited: Sequence[Interval]) -> list[Interval]:
    """`pieces` without those shorter than MIN_PIECE that extend nothing already credited."""
    edges = {round(x, ROUND) for interval in credited for x in interval}
    return [(a, b) for a, b in pieces if b - a >= MIN_PIECE or round(a, ROUND) in edges or round(b, ROUND) in edges]


def credit(
    credited: Sequence[Sequence[float]], reported: Sequence[Interval], budget: float
) -> tuple[list[Interval], float]:
    """Apply one report: (the new credited union, seconds newly credited by it).

    New coverage is what `reported` adds to `credited`, crumbs dropped, trimmed to `budget`
    (a piece the budget cut short is a crumb again when it ends up shorter than MIN_PIECE).
    """
    before = union(credited)
    fresh = _crumbs_dropped(subtract(reported, before), before)
    granted = _crumbs_dropped(trim_to_budget(fresh, budget), before)
    if not granted:
        return before, 0.0
    after = [(round(a, ROUND), round(b, ROUND)) for a, b in union([*before, *granted])]
    return after, round(measure(granted), ROUND)
