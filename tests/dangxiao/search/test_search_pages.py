"""The search page and /api/search: hostile query strings never fail, results are escaped and marked.

Content is made through the real services (boards, topics, FAQ, a course row) and indexed by
the real sources after each commit, the way the site indexes it.
"""

from __future__ import annotations

import re

import pytest

from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from tests.conftest import AuthActions
from tests.dangxiao.test_page_weight import BUDGET, _weight

PUBLIC_TITLE = "组织关系转接怎么办理"
PRIVATE_TITLE = "西街村组织关系内部通知"
FAQ_TITLE = "组织关系介绍信的有效期是多久？"
COURSE_TITLE = "组织关系转接专题课"
XSS_TITLE = "<script>alert(1)</script>组织关系"


@pytest.fixture
def app_config(app_config):
    app_config["SEARCH_PAGE_SIZE"] = 2  # three pages of results from a handful of documents
    return app_config


def make_course(title: str, summary: str) -> int:
    """A published course open to all with one lesson on a ready asset (inside an app context)."""
    from dangxiao.db_types import utcnow
    from dangxiao.extensions import db
    from dangxiao.school.models import Course, Lesson
    from media.models import AssetStatus, MediaAsset

    course = Course(
        title=title,
        summary=summary,
        summary_html=f"<p>{summary}</p>",
        teacher="讲师",
        year=2026,
        open_to_all=True,
        published=True,
        published_at=utcnow(),
    )
    asset = MediaAsset(
        title="课件",
        original_filename="lesson.mp4",
        status=AssetStatus.ready,
        duration=600.0,
        output_dir="assets/s/v00000001",
        fallback_name="video.mp4",
        has_video=True,
        has_audio=True,
    )
    db.session.add_all([course, asset])
    db.session.add(Lesson(course=course, position=1, title="第一讲 转接流程", asset=asset, duration=600.0))
    db.session.flush()
    return course.id


def seed_search_content(app, create_branch, create_user) -> dict[str, int]:
    """A member of 东街村; a public board with two topics; a board only 西街村 reads; an FAQ entry; a course."""
    east = create_branch("东街村党支部")
    west = create_branch("西街村党支部")
    member = create_user("dangyuan", branch=east, display_name="张党员")
    writer = create_user("xiezhe", roles=["member", "admin"], branch=east, display_name="李写手")
    west_writer = create_user("xijie", branch=west, display_name="王西街")
    with app.app_context():
        from dangxiao.accounts.models import User
        from dangxiao.extensions import db
        from forum import board_admin, posting
        from forum.helpdesk import faq

        with atomic():
            public = board_admin.create_board(SYSTEM, name="学习交流", read_access="public", post_access="members")
            private = board_admin.create_board(
                SYSTEM, name="西街村支部园地", read_access="branch", post_access="branch", branch_id=west
            )
        with atomic():
            author = db.session.get(User, writer)
            topic = posting.create_topic(
                author,
                public,
                PUBLIC_TITLE,
                "外出务工党员的组织关系转接（Party membership transfer），需要先到原支部开具介绍信。",
            ).topic_id
            xss = posting.create_topic(
                author, public, XSS_TITLE, "标题里的 <b>标签</b> 原样显示，组织关系也被标出。"
            ).topic_id
        with atomic():
            hidden = posting.create_topic(
                db.session.get(User, west_writer), private, PRIVATE_TITLE, "本支部组织关系排查，仅支部党员可见。"
            ).topic_id
            entry = faq.add_template(
                SYSTEM, FAQ_TITLE, "组织关系介绍信的有效期一般不超过三个月，请在有效期内到接收党组织报到。", "transfer"
            ).id
            course = make_course(COURSE_TITLE, "讲解流动党员组织关系转接的步骤。")
        return {"member": member, "topic": topic, "xss": xss, "hidden": hidden, "faq": entry, "course": course}


@pytest.fixture
def content(app, create_branch, create_user) -> dict[str, int]:
    return seed_search_content(app, create_branch, create_user)


def _api(client, **args):
    response = client.get("/api/search", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def test_member_finds_every_kind_with_marks_but_not_another_branchs_board(client, content):
    AuthActions(client).login("dangyuan")
    body = _api(client, q="组织关系", per_page=20).get_json()
    found = {(row["type"], row["id"]) for row in body["results"]}
    assert {("topic", content["topic"]), ("faq", content["faq"]), ("course", content["course"])} <= found
    assert ("topic", content["hidden"]) not in found
    assert PRIVATE_TITLE not in str(body)  # not as a result, a snippet, nor a count
    assert body["total"] == len(body["results"]) == sum(body["counts"].values())
    assert body["counts"]["topic"] == 2 and body["counts"]["faq"] == 1

    page = client.get("/search", query_string={"q": "组织关系"}).get_data(as_text=True)
    assert re.search(r"<mark>组织(关系)?</mark>", page)
    assert PRIVATE_TITLE not in page
    assert 'data-testid="search-counts"' in page and "全部 " in page


def test_results_escape_user_html_around_the_marks(client, content):
    AuthActions(client).login("dangyuan")
    page = client.get("/search", query_string={"q": "组织关系", "type": "topic"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>标签</b>" not in page and "<mark>" in page
    row = next(
        r
        for r in _api(client, q="组织关系", type="topic", per_page=20).get_json()["results"]
        if r["id"] == content["xss"]
    )
    assert row["title"] == XSS_TITLE  # plain text: a client escapes it
    assert "<script>" not in row["title_html"] and "<script>" not in row["snippet_html"]
    assert "<mark>" in row["title_html"]


def test_json_shape_and_headers(client, content):
    response = _api(client, q="组织关系 介绍信", per_page=1)
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_json()
    assert set(body) >= {"total", "results", "counts", "page", "pages"}
    assert body["page"] == 1 and body["pages"] == body["total"] >= 1
    (row,) = body["results"]
    assert set(row) >= {"type", "id", "title", "url", "snippet_html"}
    assert row["url"].startswith("/")


# Each of these must answer 200 with a page that makes sense, on every backend.
HOSTILE = {
    "empty": "",
    "spaces": "   ",
    "punctuation": "！？。，、…“”（）——.,;:!?",
    "ten_kb": "组织关系" + "党" * 10_240,
    "unbalanced_quote": '"组织关系 介绍信',
    "fts5_syntax": 'NEAR(组织 关系) title:组织 ^关系 * ( ) " OR AND NOT -',
    "traditional": "組織關係",
    "english_mixed": "Party 组织关系 transfer",
    "full_width": "ＮＥＡＲ（组织关系）",
}
OUTCOMES = ('data-testid="search-hint"', 'data-testid="search-results"', 'data-testid="search-empty"')


def test_hostile_queries_answer_200(client, content):
    for name, q in HOSTILE.items():
        page = client.get("/search", query_string={"q": q})
        assert page.status_code == 200, name
        html = page.get_data(as_text=True)
        assert len(html) < 100_000, name  # a 10 KB query is not echoed back whole
        assert any(outcome in html for outcome in OUTCOMES), name
        body = _api(client, q=q).get_json()
        assert body["total"] >= 0 and body["page"] >= 1 and isinstance(body["results"], list), name
        if name in {"traditional", "english_mixed"}:
            assert body["total"] > 0, name  # folded / segmented the same way as the documents
            assert re.search(r"<mark>组织(关系)?</mark>", html), name  # marks on the simplified original
        if name in {"empty", "spaces", "punctuation"}:
            assert body["total"] == 0 and 'data-testid="search-hint"' in html, name


BAD_PARAMETERS = [
    {"page": "99999999999999999999"},
    {"page": "-1"},
    {"page": "abc"},
    {"page": "0"},
    {"type": "nonsense"},
    {"type": "help"},  # a visitor has no requests: zero, not an error
    {"from": "2024-13-45", "to": "not-a-date"},
    {"from": "2099-01-01", "to": "2000-01-01"},  # swapped, not refused
    {"sort": "'; DROP TABLE search_docs; --"},
    {"board": "abc", "category": "x" * 500},
    {"board": "99999999999", "per_page": "-5"},
]


def test_bad_parameters_are_ignored_or_clamped(client, content):
    for args in BAD_PARAMETERS:
        page = client.get("/search", query_string={"q": "组织关系", **args})
        assert page.status_code == 200, args
        body = _api(client, q="组织关系", **args).get_json()
        assert 1 <= body["page"] <= max(body["pages"], 1), args


def test_a_page_past_the_end_is_the_last_page(client, content):
    body = _api(client, q="组织关系", per_page=1, page=999).get_json()
    assert body["pages"] >= 3 and body["page"] == body["pages"] and len(body["results"]) == 1
    html = client.get("/search", query_string={"q": "组织关系", "page": 999}).get_data(as_text=True)
    assert 'rel="prev"' in html and 'rel="next"' not in html


def test_filters_keep_in_pager_and_type_links(client, content):
    AuthActions(client).login("dangyuan")
    html = client.get("/search", query_string={"q": "组织关系", "sort": "date", "type": "topic"}).get_data(as_text=True)
    assert 'aria-current="page">主题 2<' in html
    assert 'value="date" selected' in html
    only_faq = _api(client, q="组织关系", type="faq").get_json()
    assert [row["type"] for row in only_faq["results"]] == ["faq"]


def test_the_header_box_is_on_every_page_and_the_page_fits_the_budget(client, content):
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'<form class="site-search" method="get" action="/search" role="search"', home)
    assert '<label for="site-q"' in home
    total, assets = _weight(client, "/search?q=%E7%BB%84%E7%BB%87%E5%85%B3%E7%B3%BB")
    assert total <= BUDGET, (total, assets)


def test_the_api_is_rate_limited(app, client, content):
    app.config["SEARCH_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        _api(client, q="组织")
    response = client.get("/api/search", query_string={"q": "组织"})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
