"""Hot topics: meaningful terms per document, trend against the previous period, visibility, the cache."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from dangxiao.accounts.models import User
from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.transactions import atomic
from forum import posting
from forum.helpdesk import hot
from forum.helpdesk.models import HelpCategory, HelpRequest, HotDocTerms
from forum.models import Post
from tests.forum.test_posting import make_board, reply_by, topic_by


@pytest.fixture
def app_config(app_config):
    return {**app_config, "FORUM_NEW_ACCOUNT_DAYS": 0}  # the posters here are not under test as new accounts


def add_request(user_id: int, text: str, *, days_ago: float = 1, held: bool = False) -> int:
    with atomic():
        req = HelpRequest(
            requester_id=user_id,
            category=HelpCategory.other,
            region_code="440306",
            title=text[:20],
            description=text,
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
            held=held,
            created_at=utcnow() - timedelta(days=days_ago),
        )
        db.session.add(req)
        db.session.flush()
        return req.id


def about(*terms: str) -> str:
    return f"请问{'、'.join(terms)}怎么办？谢谢"


def ranked(days: int = 7) -> dict[str, hot.HotTopic]:
    with atomic():
        return {t.term: t for t in hot.hot_topics(days)}


def test_terms_keep_meaningful_words_once():
    text = "请问我们这个流动党员的组织关系转接怎么办？组织关系转接需要介绍信吗 https://example.com/x 2024 三个 PDF @zhangsan"
    assert hot.terms(text) == ["流动党员", "组织关系转接", "介绍信", "pdf"]
    assert hot.terms("谢谢！！！😀😀") == []


def test_trend_against_the_previous_period_and_held_requests_left_out(ctx, create_user):
    uid = create_user("liudong")
    for terms in (["介绍信", "党费", "学习强国", "三会一课"],) * 2 + (["介绍信", "学习强国"],):
        add_request(uid, about(*terms), days_ago=2)
    for terms in (["介绍信", "党费", "三会一课"], ["党费", "三会一课"], ["党费"], ["党费"], ["党费"]):
        add_request(uid, about(*terms), days_ago=10)
    add_request(uid, about("介绍信"), days_ago=30)  # before both periods
    for _ in range(3):
        add_request(uid, about("党员档案"), days_ago=1, held=True)  # waiting for review: not counted

    topics = ranked(7)
    assert {t: (x.count, x.previous, x.trend) for t, x in topics.items()} == {
        "介绍信": (3, 1, "up"),
        "党费": (2, 5, "down"),
        "学习强国": (3, 0, "new"),
        "三会一课": (2, 2, "flat"),
    }
    assert topics["学习强国"].trend_label == "新" and topics["党费"].arrow == "↓"
    assert list(topics)[0] in ("介绍信", "学习强国")  # 3 documents beat 2
    assert db.session.scalar(select(func.count()).select_from(HotDocTerms)) == 12  # held ones are stored too


def test_hidden_post_does_not_count_and_the_cache_follows(ctx, create_user):
    uid = create_user("poster", branch=None)
    board = make_board("学习园地")
    opener = topic_by(uid, board, "红色教育基地参观", "组织大家参观红色教育基地，很有收获。")
    reply_by(uid, opener.topic_id, "红色教育让人难忘，红色基因代代传。")
    gone = reply_by(uid, opener.topic_id, "红色基因要传承好，我们支部也去。")
    topics = ranked(30)
    assert topics["红色教育"].count == 2 and topics["红色基因"].count == 2

    with atomic():
        posting.delete_post(db.session.get(User, uid), db.session.get(Post, gone.id), "重复")
    topics = ranked(30)
    assert topics["红色教育"].count == 2
    assert "红色基因" not in topics  # one document left: not a topic


def test_cache_until_new_text_arrives(ctx, create_user):
    uid = create_user("cached")
    for _ in range(2):
        add_request(uid, about("党费缴纳", "流出地"))
    first = ranked(30)
    assert set(first) == {"党费缴纳", "流出地"}
    with atomic():
        db.session.execute(delete(HotDocTerms))
    assert ranked(30) == first  # served from the cache: nothing was segmented again
    assert db.session.scalar(select(func.count()).select_from(HotDocTerms)) == 0

    for _ in range(2):
        add_request(uid, about("流入地"))
    assert set(ranked(30)) == {"党费缴纳", "流出地", "流入地"}
    assert db.session.scalar(select(func.count()).select_from(HotDocTerms)) == 4
    with atomic():
        assert hot.ingest() == 0  # insert-only, each document once
