"""The moderation audit log: admins browse, filter and export it; CSV is Excel-safe; others are refused."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from dangxiao import access, create_app
from dangxiao.accounts.models import User
from dangxiao.errors import Forbidden
from dangxiao.extensions import db, limiter
from dangxiao.policy import SYSTEM
from dangxiao.templating import local_today, localtime
from dangxiao.transactions import atomic
from forum.moderation import audit, silence
from forum.moderation.models import AuditEntry
from tests.conftest import CSRFClient

URL = "/moderation/audit/"


@pytest.fixture
def app(app_config):
    """The app, with the audit pages registered even before forum/__init__ wires them in."""
    from forum.moderation import queue_views

    app = create_app(app_config)
    if queue_views.bp.name not in app.blueprints:
        access.register(app, queue_views.bp, queue_views.ACCESS)
    app.test_client_class = CSRFClient
    limiter.reset()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def logged(app, create_user):
    """Three entries: a silence (formula-like reason), its lifting, and a system action."""
    create_user("admin", roles=["admin"])
    mod = create_user("mod", roles=["moderator"], display_name="王版主")
    member = create_user("member", display_name="李党员")
    with app.app_context(), atomic():
        actor = db.session.get(User, mod)
        silence.silence(actor, member, 3, '=HYPERLINK("http://evil.example","点我")')
        silence.lift(actor, member)
        audit.log(SYSTEM, "approve", "post", 42, summary="@所有人 看这里", reason="-1+1")
    return {"mod": mod, "member": member}


def _rows(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


def test_admin_browses_filters_and_exports(app, client, auth, logged):
    auth.login("admin")
    page = client.get(URL).get_data(as_text=True)
    assert "共 3 条" in page and "禁言" in page and "解除禁言" in page and "通过" in page
    assert "王版主" in page and "系统" in page and "用户 #" in page and "帖子 #42" in page

    only = client.get(URL, query_string={"action": "silence"}).get_data(as_text=True)
    assert "共 1 条" in only and "HYPERLINK" in only and "@所有人" not in only
    mine = client.get(URL, query_string={"actor_id": logged["mod"]}).get_data(as_text=True)
    assert "共 2 条" in mine and "只看操作人" in mine

    with app.app_context():
        today = local_today()
    tomorrow, yesterday = (today + timedelta(days=1)).isoformat(), (today - timedelta(days=1)).isoformat()
    assert "共 3 条" in client.get(URL, query_string={"since": today.isoformat(), "until": today.isoformat()}).text
    assert "没有符合条件的记录" in client.get(URL, query_string={"since": tomorrow}).text
    assert "没有符合条件的记录" in client.get(URL, query_string={"until": yesterday}).text
    bad = client.get(URL, query_string={"since": "2024-13-40", "page": "999"})
    assert bad.status_code == 200 and "日期格式不正确" in bad.text and "共 3 条" in bad.text

    export = client.get(URL + "export.csv")
    assert export.status_code == 200 and export.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in export.headers["Content-Disposition"]
    body = export.data.decode("utf-8")
    assert body.startswith("\ufeff时间,操作人,操作,对象,版块,摘要,原因")
    rows = _rows(body[1:])
    assert len(rows) == 4
    by_action = {row[2]: row for row in rows[1:]}
    assert set(by_action) == {"禁言", "解除禁言", "通过"}
    assert by_action["禁言"][1] == "王版主" and by_action["禁言"][6].startswith("'=HYPERLINK(")
    assert by_action["禁言"][5] == "禁言“李党员” 3 天"
    assert by_action["通过"][1] == "系统" and by_action["通过"][3] == "帖子 #42"
    assert by_action["通过"][5] == "'@所有人 看这里" and by_action["通过"][6] == "'-1+1"
    with app.app_context():
        first = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "approve"))
        assert by_action["通过"][0] == localtime(first.created_at, "%Y-%m-%d %H:%M:%S")  # the site's zone

    filtered = _rows(client.get(URL + "export.csv", query_string={"action": "unsilence"}).data.decode()[1:])
    assert [row[2] for row in filtered] == ["操作", "解除禁言"]


def test_only_admins_see_the_log(app, client, auth, logged):
    anonymous = client.get(URL)
    assert anonymous.status_code == 302 and "/accounts/login" in anonymous.headers["Location"]
    assert client.get(URL + "export.csv").status_code == 302
    for user in ("mod", "member"):
        auth.login(user)
        assert client.get(URL).status_code == 403
        assert client.get(URL + "export.csv").status_code == 403
        auth.logout()
    with app.app_context():
        moderator = db.session.get(User, logged["mod"])
        with pytest.raises(Forbidden):
            audit.entries_stmt(moderator)
        with pytest.raises(Forbidden):
            audit.export_csv(moderator)
