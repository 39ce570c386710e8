"""Station keys: the three ways a box sends its key, bad keys, hashed storage, rotation, last-seen."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

import pytest
from flask import Blueprint, jsonify
from sqlalchemy import event, text

from dangxiao import access
from dangxiao.accounts.models import User
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from dangxiao.tv import devices
from dangxiao.tv.models import Device


def add_probe(app) -> None:
    """A device endpoint of our own: the feeds are written elsewhere, the loader is what is tested."""
    bp = Blueprint("tv_probe", __name__)

    @bp.route("/api/tv-probe")
    def probe():
        device = access.current_device()
        return jsonify(id=device.id, base=devices.play_base(), url=devices.device_url("tv_probe.probe", page=2))

    access.register(app, bp, {"probe": access.DEVICE})


@pytest.fixture
def station(app, create_branch):
    """(device id, key) of a station registered through the service."""
    add_probe(app)
    branch_id = create_branch("茶园村党支部")
    with app.app_context(), atomic():
        device, key = devices.create_device(SYSTEM, "茶园村接收站", branch_id, "茶园村", "王村长")
        return device.id, key


@contextmanager
def device_queries(app):
    """Statements that touch tv_devices while the block runs."""
    seen: list[str] = []

    def listener(conn, cursor, statement, *args):
        if "tv_devices" in statement:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def _refused(response) -> bool:
    body = response.get_json()
    return response.status_code == 401 and body == {
        "error": {"code": "device_key_required", "message": body["error"]["message"]}
    }


def test_a_box_authenticates_by_header_query_or_path_prefix(client, station):
    device_id, key = station
    for response in (
        client.get("/api/tv-probe", headers={"X-Device-Key": key}),
        client.get(f"/api/tv-probe?key={key}"),
        client.get(f"/tv/k/{key}/api/tv-probe"),
    ):
        assert response.status_code == 200, response.data
        body = response.get_json()
        assert body["id"] == device_id
        # whichever way the key came, the URLs a feed hands out carry it in the path
        assert body["base"] == f"http://localhost/tv/k/{key}/"
        assert body["url"] == f"http://localhost/tv/k/{key}/api/tv-probe?page=2"
    assert _refused(client.get("/api/tv-probe"))


def test_missing_revoked_unknown_and_garbage_keys_are_401_without_data(app, client, station):
    device_id, key = station
    unknown = "x" * 43
    garbage = ["short", "a%2Fb" * 10, "a b" * 10, "ä" * 30, "'\"<>" * 10, "k" * 500, key + "/", key + "\n"]
    with device_queries(app) as queries:
        for bad in garbage:
            assert _refused(client.get("/api/tv-probe", query_string={"key": bad})), bad
            header = bad.encode("utf-8").decode("latin-1").replace("\n", "")
            if header != key:
                assert _refused(client.get("/api/tv-probe", headers={"X-Device-Key": header})), bad
    assert queries == []  # refused by shape, before the database is asked
    for path_key in ("a%20b" * 10, "%C3%A4" * 30, "%27%22%3C%3E" * 10, "k" * 500):
        assert _refused(client.get(f"/tv/k/{path_key}/api/tv-probe")), path_key
    slashed = client.get("/tv/k/" + "a%2Fb" * 10 + "/api/tv-probe")  # the slash ends the key: no such page
    assert slashed.status_code in (401, 404) and b"base" not in slashed.data
    assert _refused(client.get("/api/tv-probe", headers={"X-Device-Key": unknown}))
    with app.app_context(), atomic():
        devices.revoke(SYSTEM, device_id)
    for response in (
        client.get("/api/tv-probe", headers={"X-Device-Key": key}),
        client.get(f"/api/tv-probe?key={key}"),
        client.get(f"/tv/k/{key}/api/tv-probe"),
    ):
        assert _refused(response)
    with app.app_context(), atomic():
        devices.restore(SYSTEM, device_id)
    assert client.get("/api/tv-probe", headers={"X-Device-Key": key}).status_code == 200


def test_keys_are_stored_hashed_and_rotation_stops_the_old_key(app, client, station):
    device_id, key = station
    with app.app_context():
        row = db.session.execute(text("SELECT * FROM tv_devices WHERE id = :id"), {"id": device_id}).mappings().one()
        assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
        assert not any(key in str(value) for value in row.values())
        assert key.startswith(row["key_hint"]) and len(row["key_hint"]) < 10
    with app.app_context(), atomic():
        _device, new_key = devices.rotate_key(SYSTEM, device_id)
    assert new_key != key and devices.KEY_RE.fullmatch(new_key)
    assert _refused(client.get(f"/tv/k/{key}/api/tv-probe"))
    assert client.get(f"/tv/k/{new_key}/api/tv-probe").get_json()["id"] == device_id


def test_last_seen_is_written_at_most_once_per_interval(app, client, station):
    device_id, key = station

    def seen():
        with app.app_context():
            db.session.expire_all()
            device = db.session.get(Device, device_id)
            return device.last_seen_at, device.last_seen_ip

    assert seen() == (None, "")
    client.get("/api/tv-probe", headers={"X-Device-Key": key}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    first, address = seen()
    assert first is not None and address == "10.1.2.3"
    client.get("/api/tv-probe", headers={"X-Device-Key": key}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert seen() == (first, "10.1.2.3")  # this process remembers it wrote
    devices._seen.clear()  # as if another worker served the next request: the row itself says "recent"
    client.get("/api/tv-probe", headers={"X-Device-Key": key}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert seen() == (first, "10.1.2.3")
    app.config["TV_LAST_SEEN_INTERVAL"] = 0
    client.get(f"/tv/k/{key}/api/tv-probe", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    later, address = seen()
    assert later >= first and address == "10.9.9.9"


def test_member_pages_are_not_served_under_the_key_prefix(client, station, create_user, auth):
    _device_id, key = station
    create_user("zhang")
    auth.login("zhang")
    assert client.get("/notifications/").status_code == 200
    for path in ("/notifications/", "/accounts/profile", "/admin/tv/"):
        assert client.get(f"/tv/k/{key}{path}").status_code == 404, path


def test_service_rules(app, ctx, create_branch, create_user):
    branch_id = create_branch("东街村党支部")
    with atomic():
        devices.create_device(SYSTEM, "东街村接收站", branch_id)
    for name, branch, code in [
        ("东街村接收站", branch_id, "name_taken"),
        (" 东街村接收站\u200b ", branch_id, "name_taken"),  # cleaned before the comparison
        ("站", branch_id, "name_invalid"),
        ("", branch_id, "name_empty"),
        ("站" * 61, branch_id, "name_long"),
        ("西街村接收站", 99999, "branch_not_found"),
        ("西街村接收站", "1", "branch_not_found"),
    ]:
        with pytest.raises(DomainError) as caught, atomic():
            devices.create_device(SYSTEM, name, branch)
        assert caught.value.code == code, name
    with pytest.raises(DomainError) as caught, atomic():
        devices.create_device(SYSTEM, "西街村接收站", branch_id, key="a/b")
    assert caught.value.code == "key_invalid"
    member = db.session.get(User, create_user("lisi"))
    with pytest.raises(Forbidden), atomic():
        devices.create_device(member, "西街村接收站", branch_id)
    assert [d.name for d in devices.list_devices()] == ["东街村接收站"]
