"""The credit rules admins can change: lesson tiers, bonuses, the daily cap, yearly requirements.

Each save adds a CreditRuleSet row (the latest id wins, older rows are the history), so a
question like "why did this lesson earn 0.5 in March" can still be answered. Values are
stored as strings of decimals, read back as ``Decimal``: the ledger is NUMERIC(7, 2).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from dangxiao.accounts.models import Role
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import require
from dangxiao.school.credit_models import CreditRuleSet

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("100")

#: Defaults from the issue: ≥ 30 min = 1 学时, 15–30 min = 0.5, < 15 min = 0.25; members 32, secretaries 56.
DEFAULTS: dict[str, Any] = {
    "lesson_long_minutes": 30,
    "lesson_long_credit": Decimal("1"),
    "lesson_medium_minutes": 15,
    "lesson_medium_credit": Decimal("0.5"),
    "lesson_short_credit": Decimal("0.25"),
    "course_bonus": Decimal("1"),
    "quiz_bonus": Decimal("0.5"),
    "daily_cap": None,  # None = no cap; else 学时 per member per local day for automatic awards
    "requirement_member": Decimal("32"),
    "requirement_secretary": Decimal("56"),
}

#: Field → (label, kind); kind "minutes" is a whole number, "amount" a decimal 学时 value.
FIELDS: dict[str, tuple[str, str]] = {
    "lesson_long_minutes": ("长课时长下限（分钟）", "minutes"),
    "lesson_long_credit": ("长课学时", "amount"),
    "lesson_medium_minutes": ("中等课时长下限（分钟）", "minutes"),
    "lesson_medium_credit": ("中等课学时", "amount"),
    "lesson_short_credit": ("短课学时", "amount"),
    "course_bonus": ("完成课程奖励学时", "amount"),
    "quiz_bonus": ("测试通过奖励学时", "amount"),
    "daily_cap": ("每日上限（留空表示不限）", "cap"),
    "requirement_member": ("党员年度要求学时", "requirement"),
    "requirement_secretary": ("支部书记年度要求学时", "requirement"),
}


def to_amount(raw: Any, field: str, label: str, *, maximum: Decimal = MAX_AMOUNT, allow_zero: bool = True) -> Decimal:
    """A decimal 学时 value with at most two places, within [0, maximum] (or (0, maximum])."""
    if isinstance(raw, bool) or raw is None:
        raise DomainError(f"请填写{label}。", f"{field}_empty", field)
    try:
        value = Decimal(str(raw).strip()) if not isinstance(raw, Decimal) else raw
    except (InvalidOperation, ValueError):
        raise DomainError(f"{label}必须是数字。", f"{field}_invalid", field) from None
    if not value.is_finite():
        raise DomainError(f"{label}必须是数字。", f"{field}_invalid", field)
    if value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        raise DomainError(f"{label}最多保留两位小数。", f"{field}_invalid", field)
    if value < 0 or (value == 0 and not allow_zero):
        raise DomainError(f"{label}必须大于 0。", f"{field}_range", field)
    if value > maximum:
        raise DomainError(f"{label}不能超过 {maximum}。", f"{field}_range", field)
    return value.quantize(CENT)


def _to_minutes(raw: Any, field: str, label: str) -> int:
    text = str(raw).strip() if raw is not None and not isinstance(raw, bool) else ""
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 600:
        raise DomainError(f"{label}必须是 1 到 600 之间的整数。", f"{field}_invalid", field)
    return int(text)


def _parse(data: dict[str, Any]) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    for field, (label, kind) in FIELDS.items():
        raw = data.get(field)
        if kind == "minutes":
            rules[field] = _to_minutes(raw, field, label)
        elif kind == "cap":
            empty = raw is None or (isinstance(raw, str) and not raw.strip())
            rules[field] = None if empty else to_amount(raw, field, label, allow_zero=False)
        elif kind == "requirement":
            rules[field] = to_amount(raw, field, label, maximum=Decimal("1000"))
        else:
            rules[field] = to_amount(raw, field, label)
    if rules["lesson_medium_minutes"] >= rules["lesson_long_minutes"]:
        raise DomainError(
            "中等课时长下限必须小于长课时长下限。", "lesson_medium_minutes_range", "lesson_medium_minutes"
        )
    return rules


def _decode(stored: dict[str, Any]) -> dict[str, Any]:
    rules = dict(DEFAULTS)
    for field, (_label, kind) in FIELDS.items():
        if field not in stored:
            continue
        value = stored[field]
        if kind == "minutes":
            rules[field] = int(value)
        else:
            rules[field] = None if value is None else Decimal(str(value))
    return rules


def _encode(rules: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in rules.items()}


def current() -> dict[str, Any]:
    """The rules in force: the latest saved set over the defaults."""
    stored = db.session.scalar(select(CreditRuleSet.rules).order_by(CreditRuleSet.id.desc()).limit(1))
    return _decode(stored or {})


def history(limit: int = 20) -> list[CreditRuleSet]:
    """Saved rule sets, newest first (for the admin page)."""
    return list(db.session.scalars(select(CreditRuleSet).order_by(CreditRuleSet.id.desc()).limit(limit)))


def save(actor: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data` (form strings or numbers) and add it as the newest rule set."""
    require(actor, "school.manage")
    rules = _parse(data)
    db.session.add(CreditRuleSet(rules=_encode(rules), updated_by_id=getattr(actor, "id", None)))
    db.session.flush()
    return rules


def as_form(rules: dict[str, Any]) -> dict[str, str]:
    """The rules as the admin form shows them (a missing cap as an empty box)."""
    return {k: ("" if v is None else str(v)) for k, v in rules.items()}


def lesson_credit(duration_seconds: float | None, rules: dict[str, Any] | None = None) -> Decimal:
    """学时 for a lesson of this duration under the tiers."""
    rules = rules or current()
    minutes = max(float(duration_seconds or 0), 0.0) / 60
    if minutes >= rules["lesson_long_minutes"]:
        return rules["lesson_long_credit"]
    if minutes >= rules["lesson_medium_minutes"]:
        return rules["lesson_medium_credit"]
    return rules["lesson_short_credit"]


def requirement(is_secretary: bool, rules: dict[str, Any] | None = None) -> Decimal:
    rules = rules or current()
    return rules["requirement_secretary"] if is_secretary else rules["requirement_member"]


def requirement_for(user: Any, rules: dict[str, Any] | None = None) -> Decimal:
    """The yearly requirement of `user`: branch secretaries (held, not implied) have the larger one."""
    held = {r.role for r in getattr(user, "roles", ()) or ()}
    return requirement(Role.branch_secretary in held, rules)
