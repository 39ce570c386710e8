"""Steps the help-desk service tests share (run inside the `ctx` app context)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dangxiao.accounts.models import User
from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.notifications.models import Notification
from dangxiao.transactions import atomic
from forum.helpdesk import requests

TEXT = "我在深圳打工，想把组织关系从老家转过来，请问需要哪些材料？谢谢！"


def user(name: str) -> User:
    return db.session.scalar(select(User).where(User.username == name))


def file(name: str = "zhaoliu", text: str = TEXT, *, region: str = "440306", category: str = "transfer", uploads=()):
    with atomic():
        return requests.file_request(user(name), category, region, text, uploads)


def act(fn, name: str, *args, **kwargs):
    with atomic():
        return fn(user(name), *args, **kwargs)


def notes(name: str) -> list[str]:
    return list(db.session.scalars(select(Notification.text).where(Notification.user_id == user(name).id)))


def refused(code: str, fn, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as info:
        with atomic():
            fn(*args, **kwargs)
    assert info.value.code == code, info.value.message
    return info.value
