"""Privacy of help requests over HTTP: only the requester, the current handlers and admins see one.

Another member, a handler of another region and an anonymous visitor cannot read a request
by id, find it in any list, download its attachment or act on it; to them it does not exist
(404), and the anonymous visitor is sent to log in.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dangxiao.extensions import db
from forum.helpdesk.models import HelpAttachment, HelpRequest
from tests.forum.helpdesk.test_helpdesk_pages import Desk, file_form, login, make_desk, png, request_id_from


@pytest.fixture
def desk(app, create_branch, create_user) -> Desk:
    return make_desk(app, create_branch, create_user)


OUTSIDERS = ["neighbour", "bjhandler"]


@pytest.fixture
def filed(app, desk):
    """(request id, attachment id) of liudong's request in 深圳, with an image attached."""
    member = login(app, "liudong")
    request_id = request_id_from(file_form(member, files=[png("户口页.png")]))
    with app.app_context():
        attachment_id = db.session.scalar(select(HelpAttachment.id))
    return request_id, attachment_id


@pytest.mark.parametrize("username", OUTSIDERS)
def test_outsiders_get_404_and_never_see_it_listed(app, filed, username):
    request_id, attachment_id = filed
    client = login(app, username)
    assert client.get(f"/help/r/{request_id}").status_code == 404
    assert client.get(f"/help/r/{request_id}/files/{attachment_id}").status_code == 404
    assert client.get(f"/help/r/{request_id}/files/{attachment_id + 1}").status_code == 404
    for tab in ("mine", "todo", "all"):
        page = client.get(f"/help/?tab={tab}").get_data(as_text=True)
        assert f"#{request_id}" not in page and "党费应该怎样缴纳" not in page
    for action, data in (("hand_over", {"branch_id": "1", "note": "转给我们"}), ("resolve", {}), ("answer", {})):
        assert (
            client.post(f"/help/r/{request_id}/{action}", data={**data, "body": "我来答复这个问题"}).status_code == 404
        )
    with app.app_context():
        req = db.session.get(HelpRequest, request_id)
        assert req.status.value == "pending" and req.handling_branch_id is not None


def test_anonymous_visitors_are_sent_to_login(app, filed):
    request_id, attachment_id = filed
    anonymous = app.test_client()
    landing = anonymous.get("/help/").get_data(as_text=True)  # the introduction only
    assert "登录后求助" in landing and f"#{request_id}" not in landing and "党费应该怎样缴纳" not in landing
    for url in (f"/help/r/{request_id}", f"/help/r/{request_id}/files/{attachment_id}", "/help/new"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accounts/login" in response.headers["Location"]
    assert anonymous.post(f"/help/r/{request_id}/resolve").status_code == 401
    with app.app_context():
        assert db.session.get(HelpRequest, request_id).status.value == "pending"


def test_requester_and_handler_download_the_attachment_privately(app, filed, desk):
    request_id, attachment_id = filed
    for username in ("liudong", "szhandler", "boss"):
        response = login(app, username).get(f"/help/r/{request_id}/files/{attachment_id}")
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response.headers["Cache-Control"] and "private" in response.headers["Cache-Control"]
        assert response.data.startswith(b"\x89PNG")
        response.close()  # send_file keeps the file open until the response is closed


def test_requester_cannot_hand_over_their_own_request(app, filed, desk):
    request_id, _ = filed
    member = login(app, "liudong")
    response = member.post(f"/help/r/{request_id}/hand_over", data={"branch_id": str(desk.beijing), "note": "换个地方"})
    assert response.status_code == 302
    assert "/help/r/" in response.headers["Location"]
    json_refusal = member.post(
        f"/help/r/{request_id}/hand_over",
        data={"branch_id": str(desk.beijing), "note": "换个地方"},
        headers={"Accept": "application/json"},
    )
    assert json_refusal.status_code == 403
    with app.app_context():
        assert db.session.get(HelpRequest, request_id).handling_branch_id == desk.shenzhen


def test_hand_over_moves_the_request_out_of_the_old_handlers_sight(app, filed, desk):
    request_id, attachment_id = filed
    handler = login(app, "szhandler")
    page = handler.get(f"/help/r/{request_id}").get_data(as_text=True)
    assert "转办给" in page and "北京市流动党员服务中心" in page
    response = handler.post(
        f"/help/r/{request_id}/hand_over", data={"branch_id": str(desk.beijing), "note": "她下月去北京工作"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/help/")
    assert handler.get(f"/help/r/{request_id}").status_code == 404
    assert handler.get(f"/help/r/{request_id}/files/{attachment_id}").status_code == 404
    beijing = login(app, "bjhandler")
    shown = beijing.get(f"/help/r/{request_id}").get_data(as_text=True)
    assert "她下月去北京工作" in shown and "深圳市流动党员服务中心 → 北京市流动党员服务中心" in shown


def test_a_held_request_is_only_the_requesters(app, desk):
    from dangxiao.policy import SYSTEM
    from dangxiao.transactions import atomic
    from forum.moderation import rules

    with app.app_context(), atomic():
        rules.add_rule(SYSTEM, "代办证件", "review", "help")
    member = login(app, "liudong")
    request_id = request_id_from(file_form(member, description="有没有人可以帮忙代办证件，我在深圳宝安上班。"))
    shown = member.get(f"/help/r/{request_id}").get_data(as_text=True)
    assert 'data-testid="held-notice"' in shown and "待审核" in shown
    for username in ("szhandler", "boss"):
        client = login(app, username)
        assert client.get(f"/help/r/{request_id}").status_code == 404
        assert f"#{request_id}" not in client.get("/help/?tab=todo").get_data(as_text=True)
