"""@mentions in post text: who is named, resolved the way logins resolve usernames.

Usernames may be Chinese and Chinese puts no space after a name ("@张三你好"), so a
mention is the LONGEST prefix of the run after "@" that is an existing username
(compared on ``username_key``: NFKC, case-folded), not the whole run.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from dangxiao.accounts.models import User, UserStatus
from dangxiao.accounts.validation import USERNAME_MAX, USERNAME_MIN, username_key
from dangxiao.extensions import db

MAX_MENTIONS = 10
_MAX_CANDIDATES = 2 * MAX_MENTIONS  # runs looked at; the rest of the text is not scanned
# "@" not preceded by a word character (an e-mail address is not a mention), then a username run.
_MENTION = re.compile(r"(?<![\w@])@([\w.\-]+)")
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.S)


def candidates(text: str) -> list[str]:
    """The username-like runs after "@" (code spans skipped), first ones first, each once."""
    seen: list[str] = []
    for match in _MENTION.finditer(_CODE.sub(" ", text)):
        run = match.group(1)[:USERNAME_MAX]
        if len(run) >= USERNAME_MIN and run not in seen:
            seen.append(run)
            if len(seen) >= _MAX_CANDIDATES:
                break
    return seen


def resolve(text: str) -> list[User]:
    """Active users mentioned in `text`, in order of first mention, at most MAX_MENTIONS."""
    runs = candidates(text)
    if not runs:
        return []
    prefixes: dict[str, list[str]] = {}
    for run in runs:
        prefixes[run] = [username_key(run[:n]) for n in range(len(run), USERNAME_MIN - 1, -1)]
    keys = {key for keys in prefixes.values() for key in keys}
    users = {
        user.username_key: user
        for user in db.session.scalars(
            select(User).where(User.username_key.in_(keys), User.status == UserStatus.active)
        )
    }
    found: list[User] = []
    for run in runs:
        for key in prefixes[run]:  # longest first
            user = users.get(key)
            if user is not None:
                if user not in found:
                    found.append(user)
                break
        if len(found) >= MAX_MENTIONS:
            break
    return found
