"""The audience page, host console and projector: who may open them, and what they render.

Questions are written straight into the tables (the states the services produce), so these
tests are about the pages: the snapshot they render, the policy they apply and escaping.
"""

from __future__ import annotations

import json
import re

import pytest

from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum.live.models import LiveQuestion, LiveSession, QuestionStatus
from tests.dangxiao.test_page_weight import BUDGET, _weight

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def people(create_user, create_branch):
    """A host, a member of the host's branch and a member of another branch."""
    home = create_branch("第一支部")
    other = create_branch("第二支部")
    return {
        "home": home,
        "host": create_user("host", branch=home),
        "member": create_user("member", branch=home),
        "stranger": create_user("stranger", branch=other),
    }


def add_question(app, session_id, author_id, text, status="approved", votes=0, **fields) -> int:
    with app.app_context(), atomic():
        q = LiveQuestion(
            session_id=session_id, author_id=author_id, text=text, status=QuestionStatus(status), votes=votes, **fields
        )
        db.session.add(q)
        db.session.flush()
        return q.id


def boot_of(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="live-boot">(.*?)</script>', html, re.S)
    assert found, "the page carries its snapshot for live.js"
    return json.loads(found.group(1))


def test_audience_page_renders_the_snapshot_for_a_member(app, client, auth, people, make_session):
    sid = make_session([people["host"]], allow_anonymous=True)
    add_question(app, sid, people["host"], "支部换届怎么安排？", votes=3)
    mine = add_question(app, sid, people["member"], "党费标准是多少？", status="pending")
    add_question(app, sid, people["stranger"], "别人的待审核问题", status="pending")
    add_question(app, sid, people["member"], "不合适的问题", status="dismissed", dismiss_reason="与主题无关")
    with app.app_context():
        seq = db.session.get(LiveSession, sid).seq

    auth.login("member")
    html = client.get(f"/live/{sid}").get_data(as_text=True)

    assert "支部换届怎么安排？" in html and 'aria-pressed="false"' in html
    assert "党费标准是多少？" in html and "待审核" in html  # own pending question, with its state
    assert '未采用：<span class="live-q-reason-text">与主题无关</span>' in html
    assert "别人的待审核问题" not in html  # pending questions of others: hosts only
    assert 'id="live-ask-anon"' in html and "匿名提问" in html
    assert 'role="status"' in html and 'aria-live="polite"' in html
    boot = boot_of(html)
    assert boot["session_id"] == sid and boot["seq"] == seq and boot["role"] == "audience"
    assert mine in {q["id"] for q in boot["state"]["questions"] if q.get("mine")}
    assert "socket.io.min.js" in html and "js/live.js" in html


def test_branch_session_is_hidden_from_another_branch(app, client, auth, people, make_session):
    sid = make_session([people["host"]], audience="branch", branch_id=people["home"])

    auth.login("stranger")
    for path in (f"/live/{sid}", f"/live/{sid}/screen", f"/live/{sid}/host"):
        assert client.get(path).status_code == 404, path
    auth.logout()
    auth.login("member")
    assert client.get(f"/live/{sid}").status_code == 200
    assert client.get(f"/live/{sid}/host").status_code == 403  # sees the session, is not its host


def test_host_console_shows_the_queue_to_hosts_only(app, client, auth, people, make_session):
    sid = make_session([people["host"]], allow_anonymous=True)
    add_question(app, sid, people["member"], "匿名问的问题", status="pending", anonymous=True)

    auth.login("host")
    html = client.get(f"/live/{sid}/host").get_data(as_text=True)
    assert "匿名问的问题" in html and "member" in html  # hosts always see who asked
    assert 'data-action="approve"' in html and 'data-action="dismiss"' in html
    assert boot_of(html)["role"] == "host"
    auth.logout()

    assert client.get(f"/live/{sid}/host").status_code == 302  # anonymous: log in first
    auth.login("member")
    assert client.get(f"/live/{sid}/host").status_code == 403
    assert client.get("/live/999999/host").status_code == 404


def test_anonymous_visitors_see_public_sessions_and_log_in_for_others(app, client, people, make_session):
    public = make_session([people["host"]], audience="public")
    members = make_session([people["host"]], audience="members")
    add_question(app, public, people["member"], "公开的问题", votes=2)

    page = client.get(f"/live/{public}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "公开的问题" in html
    assert "登录后提问" in html and 'id="live-ask"' not in html and 'data-action="vote"' not in html
    assert "socket.io.min.js" in html  # base.html loads it for logged-in users only
    assert client.get(f"/live/{public}/screen").status_code == 200

    for path in (f"/live/{members}", f"/live/{members}/screen"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login" in response.headers["Location"], path
    assert client.get("/live/999999").status_code == 404


def test_question_text_is_escaped_in_the_page_and_in_the_snapshot(app, client, auth, people, make_session):
    sid = make_session([people["host"]])
    qid = add_question(app, sid, people["member"], SCRIPT, answer=f"答：{SCRIPT}", status="answered")
    with app.app_context(), atomic():
        db.session.get(LiveSession, sid).highlighted_id = qid

    auth.login("host")
    for path in (f"/live/{sid}", f"/live/{sid}/host", f"/live/{sid}/screen"):
        html = client.get(path).get_data(as_text=True)
        assert SCRIPT not in html, path
        assert "&lt;script&gt;alert(" in html, path
        assert boot_of(html)["state"]["questions"][0]["text"] == SCRIPT  # JSON-escaped, same text


def test_projector_shows_the_highlight_and_top_questions_without_controls(app, client, auth, people, make_session):
    sid = make_session([people["host"]])
    ids = [add_question(app, sid, people["member"], f"问题{n}", votes=n) for n in range(7)]
    with app.app_context(), atomic():
        db.session.get(LiveSession, sid).highlighted_id = ids[0]

    auth.login("member")
    html = client.get(f"/live/{sid}/screen").get_data(as_text=True)
    listed = re.findall(r'<p class="live-q-text">(问题\d)</p>', html)
    assert listed == ["问题6", "问题5", "问题4", "问题3", "问题2"]  # top 5 by votes, highlight apart
    assert 'data-testid="screen-highlight">问题0<' in html
    assert "<form" not in html and "<button" not in html
    assert boot_of(html)["role"] == "screen"


def test_pages_fit_the_budget_with_the_live_client(app, client, auth, people, make_session):
    sid = make_session([people["host"]])
    for n in range(40):  # a busy session: 40 questions of 60 characters, 15 answered at length, 5 waiting
        status = "answered" if n < 15 else "pending" if n >= 35 else "approved"
        answer = "答" * 150 if status == "answered" else ""
        add_question(app, sid, people["member"], f"{n:02d}" + "党" * 58, status=status, votes=n, answer=answer)

    for user in ("host", "member"):
        auth.login(user)
        for path in (f"/live/{sid}", f"/live/{sid}/host", f"/live/{sid}/screen"):
            if user == "member" and path.endswith("/host"):
                continue
            total, assets = _weight(client, path)
            assert any("socket.io" in url for url in assets) and any("live.js" in url for url in assets)
            assert total <= BUDGET, (user, path, total, assets)
        auth.logout()
