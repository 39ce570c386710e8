"""`flask devices …`: create prints the key on its last line, and that key lets the box in."""

from __future__ import annotations

import pytest

from tests.tv.test_devices import add_probe


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the commands wrap the services, which test_devices runs on both databases


def test_devices_cli_contract(app, client, runner, create_branch):
    add_probe(app)
    branch_id = create_branch("青山乡茶园村党支部")

    created = runner.invoke(
        args=["devices", "create", "茶园村接收站", "--branch", "青山乡茶园村党支部", "--village", "茶园村"]
    )
    assert created.exit_code == 0, created.output
    lines = created.output.strip().splitlines()
    key = lines[-1]
    assert "茶园村接收站" in lines[0] and len(key) == 43
    assert client.get("/api/tv-probe", headers={"X-Device-Key": key}).status_code == 200

    by_id = runner.invoke(args=["devices", "create", "茶园村二站", "--branch", str(branch_id)])
    assert by_id.exit_code == 0, by_id.output

    for args, message in [
        (["devices", "create", "某站", "--branch", "不存在的支部"], "找不到组织"),
        (["devices", "create", "某站", "--branch", "999"], "找不到组织"),
        (["devices", "create", "茶园村接收站", "--branch", str(branch_id)], "已有名为"),
        (["devices", "revoke", "没有这个站"], "找不到接收站点"),
        (["devices", "rotate", "没有这个站"], "找不到接收站点"),
    ]:
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)

    rotated = runner.invoke(args=["devices", "rotate", "茶园村接收站"])
    new_key = rotated.output.strip().splitlines()[-1]
    assert rotated.exit_code == 0 and new_key != key
    assert client.get("/api/tv-probe", headers={"X-Device-Key": key}).status_code == 401
    assert client.get("/api/tv-probe", headers={"X-Device-Key": new_key}).status_code == 200

    revoked = runner.invoke(args=["devices", "revoke", "茶园村接收站"])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/tv-probe", headers={"X-Device-Key": new_key}).status_code == 401

    listed = runner.invoke(args=["devices", "list"]).output.splitlines()
    assert listed[1].split("\t")[:3] == ["茶园村二站", "青山乡茶园村党支部", "正常"]
    assert listed[2].split("\t")[:3] == ["茶园村接收站", "青山乡茶园村党支部", "已吊销"]
    assert listed[2].split("\t")[3].startswith("20")  # the box was seen: when and from where


def test_demo_station_is_seeded_once_with_the_documented_key(app, client, create_branch):
    from dangxiao.tv.demo import DEMO_KEY, seed_tv

    add_probe(app)
    create_branch("城关镇东街村党支部")
    with app.app_context():
        first, again = seed_tv(), seed_tv()
    assert any(DEMO_KEY in line for line in first) and any("已存在" in line for line in again)
    assert client.get(f"/tv/k/{DEMO_KEY}/api/tv-probe").status_code == 200
