"""The /live/ pages: the list per viewer, the session form, start/close buttons, the CSV download."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dangxiao.extensions import db
from forum.live.models import LiveSession, SessionStatus
from forum.models import Topic
from tests.forum.live.test_archive import add_question
from tests.forum.live.test_sessions import build_world, create


@pytest.fixture
def world(ctx, create_branch, create_user):
    return build_world(create_branch, create_user)


def status_of(sid: int) -> SessionStatus:
    db.session.expire_all()
    return db.session.get(LiveSession, sid).status


def test_index_shows_each_viewer_what_they_may_see(world, client, auth):
    create(world, title="公开答疑", audience="public")
    create(world, title="西街支部答疑", audience="branch", branch_id=str(world["west"]))
    page = client.get("/live/").get_data(as_text=True)
    assert "公开答疑" in page and "西街支部答疑" not in page and "开设答疑" not in page
    auth.login("zhangsan")  # east branch
    page = client.get("/live/").get_data(as_text=True)
    assert "公开答疑" in page and "西街支部答疑" not in page and "/start" not in page
    auth.logout()
    auth.login("lisi")  # west branch
    page = client.get("/live/").get_data(as_text=True)
    assert "西街支部答疑" in page and "/start" not in page and "export.csv" not in page
    auth.logout()
    auth.login("secretary")
    page = client.get("/live/").get_data(as_text=True)
    assert "开设答疑" in page and page.count("/start") == 2 and 'name="csrf_token"' in page


def test_new_session_form(world, client, auth):
    assert client.get("/live/new").status_code in (302, 401)  # login first
    auth.login("zhangsan")
    assert client.get("/live/new").status_code == 403  # a member may not open sessions
    auth.logout()
    auth.login("secretary")
    page = client.get("/live/new").get_data(as_text=True)
    assert '<label for="ls-hosts">' in page and "<legend>参与范围</legend>" in page and "学习心得" in page
    assert "时政信息" not in page  # a board the secretary may not post in is not offered
    form = {
        "title": "党费交纳答疑",
        "hosts": "cohost、nobody",
        "board_id": str(world["board"]),
        "starts_at": "2026-03-01T10:00",
        "audience": "members",
        "moderation": "auto",
    }
    response = client.post("/live/new", data=form)
    assert response.status_code == 400 and "nobody" in response.get_data(as_text=True)
    assert 'value="党费交纳答疑"' in response.get_data(as_text=True)  # what was typed is kept
    assert db.session.scalar(select(func.count()).select_from(LiveSession)) == 0
    assert client.post("/live/new", data=form | {"hosts": "cohost"}, csrf=False).status_code == 400
    response = client.post("/live/new", data=form | {"hosts": "cohost"})
    assert response.status_code == 302
    [session] = db.session.scalars(select(LiveSession)).all()
    assert session.title == "党费交纳答疑" and session.moderation.value == "auto"
    page = client.get(f"/live/{session.id}/edit").get_data(as_text=True)
    assert 'value="2026-03-01T10:00"' in page and 'value="cohost"' in page


def test_start_close_and_export_by_hosts_only(world, client, auth):
    sid = create(world)
    add_question(sid, world["east_member"], "党员教育有哪些形式？", answer="三会一课等。", by=world["secretary"])
    auth.login("zhangsan")
    assert client.post(f"/live/{sid}/start").status_code == 403
    assert client.post(f"/live/{sid}/close").status_code == 403
    assert client.get(f"/live/{sid}/export.csv").status_code == 403
    assert client.get(f"/live/{sid}/edit").status_code == 403
    assert status_of(sid) == SessionStatus.scheduled
    auth.logout()

    auth.login("cohost")
    assert client.post(f"/live/{sid}/start", csrf=False).status_code == 400  # CSRF required
    assert status_of(sid) == SessionStatus.scheduled
    response = client.post(f"/live/{sid}/start", follow_redirects=True)
    assert "已开始" in response.get_data(as_text=True) and status_of(sid) == SessionStatus.live
    response = client.post(f"/live/{sid}/start", follow_redirects=True)
    assert "已经开始" in response.get_data(as_text=True)
    response = client.post(f"/live/{sid}/close", follow_redirects=True)
    assert "答疑实录（1 个问题）已发布" in response.get_data(as_text=True)
    assert status_of(sid) == SessionStatus.closed
    assert db.session.scalar(select(func.count()).select_from(Topic)) == 1

    download = client.get(f"/live/{sid}/export.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.data.startswith(b"\xef\xbb\xbf") and "党员教育有哪些形式" in download.data.decode("utf-8-sig")
    assert "attachment" in download.headers["Content-Disposition"]
    assert client.get(f"/live/{sid + 1000}/export.csv").status_code == 404
