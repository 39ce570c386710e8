"""Cleaning of user-entered text before it is stored.

Every title, name and one-line field goes through :func:`clean_line`; longer text
(posts, descriptions) through :func:`clean_block` before Markdown. Why here, once:

* NUL and other C0/C1 control characters break PostgreSQL (NUL), terminals and CSV
  exports; they are removed (tabs and newlines become spaces in one-line fields).
* Format characters (Unicode category Cf) — zero-width space/joiners, the BOM, soft
  hyphen and the bidi controls U+202A–U+202E, U+2066–U+2069 — are invisible: they let
  "管理员" and "管\u200b理员" look the same, or reverse what a reader sees (U+202E).
  They are removed.
* NFKC folds full-width letters and digits to their ordinary forms, so "ＡＢＣ" is "ABC".
  Punctuation is left as typed (:func:`fold_width`): Chinese text is written with
  full-width ，。？：（） and …, and NFKC would turn them into ASCII ,?:() and "...".
"""

from __future__ import annotations

import re
import unicodedata

from dangxiao.errors import DomainError

_SPACES = re.compile(r"\s+")
_PUNCTUATION = re.compile(
    r"[\u2026\u3001-\u3003\u3008-\u3011\u3014-\u301f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+"
)


def fold_width(text: str) -> str:
    """NFKC, except for CJK and full-width punctuation, which stays as typed (see the module doc)."""
    out: list[str] = []
    at = 0
    for match in _PUNCTUATION.finditer(text):
        out.append(unicodedata.normalize("NFKC", text[at : match.start()]))
        out.append(match.group())
        at = match.end()
    out.append(unicodedata.normalize("NFKC", text[at:]))
    return "".join(out)


def strip_invisible(text: str, *, keep_newlines: bool = False) -> str:
    """Drop control (Cc, except kept newlines/tabs) and format (Cf) characters."""
    kept = {"\n", "\t"} if keep_newlines else set()
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in kept:
            out.append(ch)
        elif category == "Cc":
            out.append(" " if ch in "\t\r\n\v\f" else "")
        elif category in ("Cf", "Co", "Cs", "Cn") or category == "Zl" or category == "Zp":
            continue
        else:
            out.append(ch)
    return "".join(out)


def clean_line(raw: object, field: str, label: str, max_len: int, required: bool = True) -> str:
    """One line of text: NFKC (punctuation kept), invisible characters removed, whitespace collapsed, bounded.

    A value that is not a string (a JSON number, a list) is refused with a message,
    never stringified: the caller sent the wrong thing.
    """
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise DomainError(f"{label}必须是文字。", f"{field}_invalid", field)
    text = _SPACES.sub(" ", strip_invisible(fold_width(raw))).strip()
    if required and not text:
        raise DomainError(f"请填写{label}。", f"{field}_empty", field)
    if len(text) > max_len:
        raise DomainError(f"{label}不能超过 {max_len} 个字符。", f"{field}_long", field)
    return text


def clean_block(raw: object, field: str, label: str, max_len: int, required: bool = True) -> str:
    """Multi-line text (before Markdown): newlines kept (CRLF → LF), invisible characters removed."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise DomainError(f"{label}必须是文字。", f"{field}_invalid", field)
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = strip_invisible(text, keep_newlines=True).strip()
    if required and not text:
        raise DomainError(f"请填写{label}。", f"{field}_empty", field)
    if len(text) > max_len:
        raise DomainError(f"{label}不能超过 {max_len} 个字符。", f"{field}_long", field)
    return text


# Titles a member could use to pass as staff; only admins may give such a name.
RESERVED_TERMS = (
    "管理员",
    "系统",
    "版主",
    "书记",
    "官方",
    "客服",
    "组织部",
    "站长",
    "审核员",
    "admin",
    "administrator",
    "moderator",
    "system",
    "root",
    "official",
)


def is_reserved_name(name: str) -> bool:
    """Does `name` (after cleaning) contain a staff-like title, ignoring case, spaces and punctuation?"""
    folded = "".join(ch for ch in unicodedata.normalize("NFKC", name).casefold() if unicodedata.category(ch)[0] in "LN")
    return any(term in folded for term in RESERVED_TERMS)
