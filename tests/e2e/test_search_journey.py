"""Search in Chromium, on SQLite and on PostgreSQL (the backend each picks by default).

A member of 东街村 types 组织关系 into the header box and finds the help desk's FAQ entry, a
forum thread and a course, each with the match highlighted — and not the thread on the
board only 西街村's members read. The results page meets WCAG AA.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.dangxiao.search.test_search_pages import (
    COURSE_TITLE,
    FAQ_TITLE,
    PRIVATE_TITLE,
    PUBLIC_TITLE,
    seed_search_content,
)
from tests.e2e.journeys import log_in
from tests.e2e.test_accessibility import axe_source, check  # noqa: F401, F811 — axe_source is a fixture

pytestmark = [pytest.mark.e2e]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """Both databases: each has its own search backend (FTS5 / tsvector), and the journey is the proof."""
    return request.param


@pytest.fixture
def content(app, create_branch, create_user) -> dict[str, int]:
    return seed_search_content(app, create_branch, create_user)


def test_member_searches_from_the_header_and_finds_what_they_may_read(browser, live_server, content, axe_source):  # noqa: F811
    page = browser.new_context(locale="zh-CN").new_page()
    page.set_default_timeout(15000)
    log_in(page, live_server, "dangyuan")

    page.goto(live_server + "/forum/")
    page.get_by_label("搜索全站").fill("组织关系")
    page.get_by_label("搜索全站").press("Enter")
    page.wait_for_url("**/search?q=*")

    results = page.get_by_test_id("search-results")
    text = results.inner_text()
    for title in (FAQ_TITLE, PUBLIC_TITLE, COURSE_TITLE):
        assert title in text, title
    assert PRIVATE_TITLE not in page.content()
    kinds = {item.get_attribute("data-kind") for item in results.locator("li").all()}
    assert {"faq", "topic", "course"} <= kinds
    marks = results.locator("mark").all_inner_texts()
    assert marks and set(marks) <= {"组织关系", "组织", "关系"}
    assert page.get_by_label("搜索内容").input_value() == "组织关系"

    page.get_by_role("link", name=PUBLIC_TITLE).click()
    page.wait_for_url(f"**/forum/t/{content['topic']}*")

    pages = [f"/search?q={quote('组织关系')}", "/search", f"/search?q={quote('查无此词')}&type=course"]
    assert check(page, live_server, pages, axe_source) == {}
