"""User text is cleaned in one place: no NUL, control, bidi or zero-width characters get stored."""

from __future__ import annotations

import pytest

from dangxiao.errors import DomainError
from dangxiao.text.clean import clean_block, clean_line, is_reserved_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张\x00三", "张三"),
        ("张\u200b三", "张三"),  # zero-width space
        ("\u202e三张", "三张"),  # right-to-left override
        ("\u2066张三\u2069", "张三"),  # isolates
        ("\ufeff张三", "张三"),  # BOM
        ("  张\t三 \n ", "张 三"),
        ("ＡＢＣ１２３", "ABC123"),  # full width folds
    ],
)
def test_clean_line_removes_what_readers_cannot_see(raw, expected):
    assert clean_line(raw, "name", "姓名", 50) == expected


@pytest.mark.parametrize("raw", [123, ["a"], {"a": 1}, True])
def test_non_text_values_are_refused_not_stringified(raw):
    with pytest.raises(DomainError) as error:
        clean_line(raw, "title", "标题", 50)
    assert error.value.code == "title_invalid"


def test_invisible_only_text_counts_as_empty():
    with pytest.raises(DomainError, match="请填写姓名"):
        clean_line("\u200b\u202e\x00", "name", "姓名", 50)


def test_clean_block_keeps_lines():
    assert clean_block("第一行\r\n第二\u200b行\x00", "body", "正文", 100) == "第一行\n第二行"


@pytest.mark.parametrize("name", ["系统管理员", "管 理 员", "王版主", "ADMIN", "Ａｄｍｉｎ", "李书记", "官方客服"])
def test_staff_like_names_are_reserved(name):
    assert is_reserved_name(name)


@pytest.mark.parametrize("name", ["张三", "王管", "Li Ming"])
def test_ordinary_names_are_not_reserved(name):
    assert not is_reserved_name(name)


def test_member_cannot_call_himself_admin_but_an_admin_may_name_staff(client, auth, create_user):
    create_user("pretender", display_name="张三")
    auth.login("pretender")
    response = client.post("/api/me", json={"display_name": "系统管理员"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "display_name_reserved"
    page = client.post("/accounts/profile", data={"display_name": "王版主"}).get_data(as_text=True)
    assert "系统称谓" in page
    assert client.get("/api/me").get_json()["user"]["display_name"] == "张三"


def test_profile_json_refuses_wrong_types_with_a_code(client, auth, create_user):
    create_user("typed", display_name="张三")
    auth.login("typed")
    for body in ({"display_name": 123}, {"display_name": ["x"]}, {"phone": 13800138000}, {"phone": {"a": 1}}):
        response = client.post("/api/me", json=body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["code"].endswith("_invalid"), body
    response = client.post("/api/me", json={"display_name": "李\u202e四\x00"})
    assert response.status_code == 200
    assert response.get_json()["user"]["display_name"] == "李四"


def test_registration_stores_clean_names(app, client, create_branch):
    from sqlalchemy import select

    from dangxiao.accounts.models import User
    from dangxiao.extensions import db

    branch = create_branch("东街村党支部")
    response = client.post(
        "/accounts/register",
        data={
            "username": "cleaner",
            "display_name": "赵\u200b六\u202e",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
            "branch_id": branch,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(User.display_name).where(User.username == "cleaner")) == "赵六"
