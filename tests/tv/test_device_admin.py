"""系统管理 › 接收站点: admins register stations and see each key once; nobody else gets in."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dangxiao.extensions import db
from dangxiao.tv import devices
from dangxiao.tv.models import Device

KEY = re.compile(r'data-testid="device-key">([^<]+)<')


@pytest.fixture
def backend() -> str:
    return "sqlite"  # thin pages over the services, which test_devices runs on both databases


def _row(app, name: str) -> Device:
    with app.app_context():
        device = db.session.scalar(select(Device).where(Device.name == name))
        db.session.expunge_all()
        return device


def _key(response) -> str:
    assert response.status_code == 200, response.data
    assert response.headers["Cache-Control"] == "no-store"
    return KEY.search(response.get_data(as_text=True)).group(1)


def test_only_admins_reach_the_station_pages(app, client, auth, create_user, create_branch):
    branch_id = create_branch("茶园村党支部")
    create_user("member", branch=branch_id)
    create_user("secretary", roles=[("branch_secretary", branch_id)], branch=branch_id)
    for username in ("member", "secretary"):
        auth.login(username)
        for path in ("/admin/tv/", "/admin/tv/new"):
            assert client.get(path).status_code == 403, (username, path)
        posted = client.post("/admin/tv/new", data={"name": "偷偷登记", "branch_id": branch_id})
        assert posted.status_code == 403 and 'data-testid="device-key"' not in posted.get_data(as_text=True)
        auth.logout()
    assert _row(app, "偷偷登记") is None
    assert client.get("/admin/tv/").status_code == 302  # anonymous: to the login page


def test_admin_registers_rotates_revokes_and_restores(app, client, auth, create_user, create_branch):
    branch_id = create_branch("茶园村党支部")
    create_user("boss", roles=("admin",))
    auth.login("boss")
    form = client.get("/admin/tv/new").get_data(as_text=True)
    assert 'for="name"' in form and 'for="branch_id"' in form and "茶园村党支部" in form
    refused = client.post("/admin/tv/new", data={"name": "茶园村接收站", "branch_id": branch_id}, csrf=False)
    assert refused.status_code == 400 and _row(app, "茶园村接收站") is None
    missing = client.post("/admin/tv/new", data={"name": "茶园村接收站", "branch_id": 0})
    assert missing.status_code == 400 and "所选组织不存在" in missing.get_data(as_text=True)

    page = client.post(
        "/admin/tv/new", data={"name": "茶园村接收站", "village": "茶园村", "branch_id": branch_id, "contact": "王村长"}
    )
    key = _key(page)
    text = page.get_data(as_text=True)
    assert f"http://localhost/tv/k/{key}/" in text and f"X-Device-Key: {key}" in text and f"?key={key}" in text
    assert f"/tv/k/{key}/tv/playlist.m3u" in text and f"/tv/k/{key}/api.php/provide/vod" in text
    device = _row(app, "茶园村接收站")
    assert device.key_hash == devices.hash_key(key) and device.village == "茶园村" and device.branch_id == branch_id
    taken = client.post("/admin/tv/new", data={"name": "茶园村接收站", "branch_id": branch_id})
    assert taken.status_code == 400 and "已有名为" in taken.get_data(as_text=True)

    listing = client.get("/admin/tv/").get_data(as_text=True)
    assert "茶园村接收站" in listing and device.key_hint in listing and key not in listing and "正常" in listing

    assert "旧密钥立即失效" in client.get(f"/admin/tv/{device.id}/rotate").get_data(as_text=True)
    new_key = _key(client.post(f"/admin/tv/{device.id}/rotate"))
    assert new_key != key and _row(app, "茶园村接收站").key_hash == devices.hash_key(new_key)

    edited = client.post(f"/admin/tv/{device.id}", data={"name": "茶园村站", "village": "", "branch_id": branch_id})
    assert edited.status_code == 302 and _row(app, "茶园村站").village == ""

    assert client.get(f"/admin/tv/{device.id}/revoke").status_code == 200
    assert client.post(f"/admin/tv/{device.id}/revoke", csrf=False).status_code == 400
    assert _row(app, "茶园村站").revoked_at is None
    client.post(f"/admin/tv/{device.id}/revoke")
    assert _row(app, "茶园村站").revoked_at is not None
    assert "已吊销" in client.get("/admin/tv/").get_data(as_text=True)
    client.post(f"/admin/tv/{device.id}/restore")
    assert _row(app, "茶园村站").revoked_at is None
    assert client.get("/admin/tv/999/rotate").status_code == 404
