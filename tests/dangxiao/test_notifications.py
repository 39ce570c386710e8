"""Notifications: written in the transaction, pushed only after it commits, read by their owner."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dangxiao.accounts import services
from dangxiao.accounts.models import User
from dangxiao.extensions import db, socketio
from dangxiao.notifications.models import Notification
from dangxiao.notifications.service import notify, unread_count
from dangxiao.policy import SYSTEM
from dangxiao.transactions import after_commit, atomic


@pytest.fixture
def applicant(create_branch, create_user):
    branch = create_branch("东街村党支部")
    return create_user("applicant", branch=branch, status="pending", display_name="申请人")


def _notes(app, user_id: int) -> list[Notification]:
    with app.app_context():
        return list(db.session.scalars(select(Notification).where(Notification.user_id == user_id)))


def test_approval_notifies_the_applicant_after_commit(app, applicant):
    pushed = []
    with app.app_context():
        with atomic():
            user = db.session.get(User, applicant)
            services.decide_registration(SYSTEM, user, "approve")
            after_commit(lambda: pushed.append("committed"))
            assert pushed == []  # nothing runs before the commit
        assert pushed == ["committed"]
    notes = _notes(app, applicant)
    assert [n.kind for n in notes] == ["registration.approved"]
    assert notes[0].url == "/accounts/profile"


def test_rolled_back_approval_leaves_no_notification_and_pushes_nothing(app, applicant):
    pushed = []
    with app.app_context():
        with pytest.raises(RuntimeError), atomic():
            services.decide_registration(SYSTEM, db.session.get(User, applicant), "approve")
            after_commit(lambda: pushed.append("should not run"))
            raise RuntimeError("something later in the same unit failed")
        assert db.session.get(User, applicant).status.value == "pending"
        # A later, unrelated commit must not run the dropped callback either.
        with atomic():
            notify(applicant, "test", "无关的通知")
    assert pushed == []
    assert [n.kind for n in _notes(app, applicant)] == ["test"]


def test_rejection_also_tells_the_applicant(app, applicant):
    with app.app_context(), atomic():
        services.decide_registration(SYSTEM, db.session.get(User, applicant), "reject")
    assert [n.kind for n in _notes(app, applicant)] == ["registration.rejected"]


def test_live_push_reaches_only_the_recipients_room(app, client, auth, create_user):
    alice = create_user("alice")
    create_user("bob")
    auth.login("alice")
    alice_socket = socketio.test_client(app, flask_test_client=client)
    assert alice_socket.is_connected()
    bob_client = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(bob_client).login("bob")
    bob_socket = socketio.test_client(app, flask_test_client=bob_client)
    with app.app_context(), atomic():
        notify(alice, "test.push", "有新的学习任务", "/school/")
    received = alice_socket.get_received()
    assert [(m["name"], m["args"][0]["text"], m["args"][0]["url"]) for m in received] == [
        ("notification", "有新的学习任务", "/school/")
    ]
    assert bob_socket.get_received() == []


def test_anonymous_socket_is_refused(app):
    anonymous = socketio.test_client(app)
    assert not anonymous.is_connected()


def test_header_count_page_and_mark_read(app, client, auth, create_user):
    me = create_user("reader")
    with app.app_context(), atomic():
        first = notify(me, "a", "第一条", "/accounts/profile").id
        notify(me, "b", "第二条")
    auth.login("reader")
    home = client.get("/").get_data(as_text=True)
    assert 'id="notify-count" data-count="2"' in home
    page = client.get("/notifications/").get_data(as_text=True)
    assert "第一条" in page and "第二条" in page
    response = client.post(f"/notifications/{first}/read")
    assert response.headers["Location"].endswith("/accounts/profile")
    with app.app_context():
        assert unread_count(me) == 1
    assert client.get("/api/notifications").get_json()["unread"] == 1
    client.post("/notifications/read-all")
    with app.app_context():
        assert unread_count(me) == 0


def test_nobody_reads_another_users_notification(app, client, auth, create_user):
    owner = create_user("owner")
    create_user("snoop")
    with app.app_context(), atomic():
        note = notify(owner, "a", "私人通知").id
    auth.login("snoop")
    assert client.post(f"/notifications/{note}/read").status_code == 403
    assert client.post("/notifications/99999/read").status_code == 404
    with app.app_context():
        assert unread_count(owner) == 1


def test_notification_links_stay_on_this_site(app, create_user):
    me = create_user("linker")
    with app.app_context(), atomic():
        assert notify(me, "a", "外链", "https://evil.example/").url is None
        assert notify(me, "a", "协议相对", "//evil.example/").url is None
        assert notify(me, "a", "站内", "/forum/").url == "/forum/"
