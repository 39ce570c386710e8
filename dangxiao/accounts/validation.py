"""Input rules for usernames, phones and region codes, shared by forms, APIs and the CLI."""

from __future__ import annotations

import re
import unicodedata

from dangxiao.errors import DomainError

USERNAME_MIN, USERNAME_MAX = 2, 32
_USERNAME_PUNCT = set("_.-")
_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_LANDLINE = re.compile(r"^(0\d{2,3})-?(\d{7,8})$")
_REGION = re.compile(r"^\d{6}(?:\d{3}(?:\d{3})?)?$")


def normalise_username(raw: str | None) -> str:
    """NFKC-normalised username, or a DomainError naming what is wrong with it.

    Letters (Chinese included), digits and `_ . -` only: spaces, control and
    zero-width characters would let two accounts look identical on screen.
    """
    if not isinstance(raw, str) or raw == "":
        raise DomainError("请填写用户名。", "username_empty", "username")
    name = unicodedata.normalize("NFKC", raw)
    for ch in name:
        cat = unicodedata.category(ch)
        if cat.startswith("C"):
            raise DomainError("用户名不能包含控制字符或不可见字符。", "username_invisible", "username")
        if cat.startswith("Z") or ch.isspace():
            raise DomainError("用户名不能包含空格。", "username_space", "username")
        if not (cat.startswith("L") or cat.startswith("N") or ch in _USERNAME_PUNCT):
            raise DomainError("用户名只能包含中文、字母、数字以及 _ . - 符号。", "username_chars", "username")
    if len(name) < USERNAME_MIN:
        raise DomainError(f"用户名至少 {USERNAME_MIN} 个字符。", "username_short", "username")
    if len(name) > USERNAME_MAX:
        raise DomainError(f"用户名不能超过 {USERNAME_MAX} 个字符。", "username_long", "username")
    return name


def username_key(name: str) -> str:
    """The form uniqueness is decided on: case-insensitive, width-insensitive."""
    return unicodedata.normalize("NFKC", name).casefold()


def normalise_phone(raw: object) -> str | None:
    """A mainland mobile (11 digits) or landline (区号-号码); empty means none."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise DomainError("手机号码格式不正确（11 位手机号或“区号-电话号码”）。", "phone_invalid", "phone")
    phone = unicodedata.normalize("NFKC", raw).strip().replace(" ", "")
    if not phone:
        return None
    if m := _MOBILE.match(phone):
        return m.group(1)
    if m := _LANDLINE.match(phone):
        return f"{m.group(1)}-{m.group(2)}"
    raise DomainError("手机号码格式不正确（11 位手机号或“区号-电话号码”）。", "phone_invalid", "phone")


def normalise_region_code(raw: object) -> str:
    code = raw.strip() if isinstance(raw, str) else ""
    if code and not _REGION.match(code):
        raise DomainError("行政区划代码应为 6、9 或 12 位数字。", "region_invalid", "region_code")
    return code


def check_password_strength(password: object, min_length: int, field: str = "password") -> str:
    if not isinstance(password, str) or len(password) < min_length:
        raise DomainError(f"密码至少 {min_length} 位。", "password_short", field)
    if len(password) > 128:
        raise DomainError("密码不能超过 128 位。", "password_long", field)
    return password
