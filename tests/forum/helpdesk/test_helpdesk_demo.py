"""The demo help desk: seeded once, with real FAQ entries, handlers, routes, tag rules and
requests of zhaoliu and sunqi in every state, including one overdue."""

from __future__ import annotations

from sqlalchemy import func, select

from dangxiao.demo import seed_demo
from dangxiao.extensions import db
from forum.helpdesk import faq, handlers, sla
from forum.helpdesk.demo import SHENZHEN, seed_helpdesk
from forum.helpdesk.models import HelpEvent, HelpMessage, HelpRequest, HelpRoute, HelpTemplate, RequestStatus
from forum.moderation import rules
from forum.moderation.models import ModerationRule


def _counts() -> dict[str, int]:
    return {
        m.__name__: db.session.scalar(select(func.count()).select_from(m))
        for m in (HelpTemplate, HelpRoute, HelpRequest, HelpMessage, HelpEvent, ModerationRule)
    }


def test_demo_help_desk_is_seeded_once_with_requests_in_every_state(app, client):
    with app.app_context():
        seed_demo()
        lines = "\n".join(seed_helpdesk())
        assert "chenshu" in lines and "zuzhibu" in lines and "新增求助 5 条" in lines
        first = _counts()
        assert "新增求助 0 条" in "\n".join(seed_helpdesk())
        assert _counts() == first

        entries = faq.published()
        assert len(entries) >= 8 and all(80 <= len(t.body) <= 250 for t in entries)
        assert "介绍信" in faq.suggest("老家开的介绍信过期了还能用吗")[0].title
        assert "组织关系转接" in rules.check("我的介绍信过期了", "help").tags
        assert "党费缴纳" in rules.check("在外地怎么交党费", "help").tags

        by_user: dict[str, list[HelpRequest]] = {}
        for req in db.session.scalars(select(HelpRequest)):
            by_user.setdefault(req.requester.username, []).append(req)
        zhaoliu, sunqi = by_user["zhaoliu"], by_user["sunqi"]
        statuses = {r.status for r in zhaoliu}
        assert {RequestStatus.pending, RequestStatus.answered} <= statuses
        overdue = [r for r in zhaoliu if sla.is_overdue(r)]
        assert len(overdue) == 1 and overdue[0].category.value == "certificate"
        answered = next(r for r in zhaoliu if r.status == RequestStatus.answered)
        answer = db.session.scalar(select(HelpMessage).where(HelpMessage.request_id == answered.id))
        assert answer.from_handler and answer.author.username == "chenshu" and answer.template_id is not None
        rated = [r for r in sunqi if r.status == RequestStatus.resolved]
        assert len(rated) == 1 and rated[0].rating.value == "satisfied"

        # Routed as the routing table says: Guangdong to the Shenzhen branch, the rest to the default queue.
        chenshu = next(u for u in [answer.author])
        assert all(r.handling_branch.name == SHENZHEN and handlers.handles(chenshu, r) for r in zhaoliu)
        assert all(r.handling_branch.name == "中共示范县委组织部机关党委" for r in sunqi)
        assert not any(handlers.handles(chenshu, r) for r in sunqi)

    html = client.get("/help/faq").get_data(as_text=True)
    assert html.count('data-testid="faq-entry"') == len(entries) and "流动党员活动证" in html
