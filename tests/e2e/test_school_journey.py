"""The school's whole loop in Chromium, on real transcoded media.

A member opens the required course from 我的学习, plays its lesson (hls.js fetched on play,
the real HLS ladder behind a signed grant), watches the progress bar reach 已完成, passes the
course quiz and sees 学时 rise; the branch secretary's report shows the member's credits and
its XLSX export reads back with openpyxl.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from dangxiao.policy import SYSTEM
from dangxiao.school import catalogue, question_bank, quizzes
from dangxiao.school.quiz_models import QuizMode
from dangxiao.transactions import atomic
from dangxiao.vendor import NODE_MODULES
from media import library
from media.tasks import run_job
from tests.e2e.journeys import log_in
from tests.e2e.test_accessibility import axe_source, check  # noqa: F401 — axe_source is a fixture
from tests.media.conftest import generate
from tests.support.binaries import in_ci, require

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COURSE = "学习贯彻党的二十大精神专题"
STEM = "中国共产党成立于1921年。"


@pytest.fixture(autouse=True)
def hls_js_installed() -> None:
    if not Path(NODE_MODULES, "hls.js/dist/hls.light.min.js").is_file():
        message = "node_modules/hls.js 不存在：请先运行 npm install（make npm-deps）"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def school(app, tmp_path, create_branch, create_user) -> dict:
    """A town with a branch, its member and secretary, and a required course with a quiz."""
    require("ffmpeg")
    town = create_branch("城关镇党总支", kind="general_branch")
    branch = create_branch("东街村党支部", parent=town)
    create_user("dangyuan", branch=branch, display_name="张学习")
    create_user("shuji", roles=["member", ("branch_secretary", town)], branch=branch, display_name="李书记")
    clip = generate(tmp_path / "lesson.mp4", seconds=4.0)
    with app.app_context():
        with atomic():
            imported = library.import_file(SYSTEM, clip, "二十大精神第一讲", enqueue=False)
        run_job(imported.asset.job.id)
        with atomic():
            category = catalogue.create_category(SYSTEM, "理论学习")
            course = catalogue.create_course(
                SYSTEM, title=COURSE, year=2026, required=True, open_to_all=False, category_id=category.id
            )
            lesson = catalogue.add_lesson(SYSTEM, course.id, "第一讲 新时代新征程", imported.asset.id)
            catalogue.publish_course(SYSTEM, course.id)
            catalogue.assign_course(SYSTEM, course.id, town, 2026, date(2026, 12, 31))
            bank = question_bank.Bank(course_id=course.id)
            question = question_bank.create_question(
                SYSTEM, bank, question_bank.QuestionInput("truefalse", STEM, ["正确", "错误"], [0], "1921年7月。", 1)
            )
            quiz = quizzes.configure(
                SYSTEM,
                None,
                title="二十大精神测试",
                course_id=course.id,
                mode=QuizMode.fixed,
                question_ids=[question.id],
                time_limit_minutes=10,
                max_attempts=3,
                pass_mark=60,
                published=True,
            )
        return {"course": course.id, "town": town, "lesson": lesson.id, "quiz": quiz.id, "category": category.id}


def credits_total(page) -> Decimal:
    text = page.get_by_test_id("credit-total").inner_text()
    return Decimal(text.split()[0])


def test_member_studies_and_the_secretary_sees_it(browser, live_server, school):
    page = browser.new_context(locale="zh-CN").new_page()
    page.set_default_timeout(20000)
    log_in(page, live_server, "dangyuan")

    page.goto(live_server + "/school/credits/")
    before = credits_total(page)

    page.goto(live_server + "/school/my")
    page.get_by_role("link", name=COURSE).first.click()
    page.wait_for_url(f"**/school/courses/{school['course']}")
    page.get_by_test_id("start").click()
    page.wait_for_url("**/school/lessons/*")

    video = "#lesson-player"
    # Browsers with native HLS (recent Chromium says "maybe") play the stream themselves;
    # the others get the 播放 button that fetches hls.js. Either way the real ladder plays.
    start = page.get_by_role("button", name="播放视频")
    if page.eval_on_selector(video, "v => v.dataset.engine") == "pending":
        start.click()
        page.wait_for_function(f"() => document.querySelector('{video}').dataset.engine === 'hls.js'")
    else:
        page.eval_on_selector(video, "v => v.play()")
    assert "/media/u" in page.eval_on_selector(video, "v => v.dataset.hls")  # a member's grant
    page.wait_for_function(f"() => document.querySelector('{video}').ended", timeout=30000)
    page.wait_for_function("() => document.querySelector('#lesson-progress').value >= 95")
    assert "已完成" in page.locator("#lesson-progress-text").inner_text()

    page.goto(live_server + f"/school/courses/{school['course']}")
    page.get_by_role("link", name="二十大精神测试").first.click()
    page.get_by_role("button", name="开始测试").click()
    page.get_by_label("A. 正确").check()
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="交卷").click()
    page.wait_for_url("**/result")
    assert "通过" in page.content()

    page.goto(live_server + "/school/credits/")
    assert credits_total(page) > before

    page.context.close()
    page = browser.new_context(locale="zh-CN", accept_downloads=True).new_page()
    log_in(page, live_server, "shuji")
    page.goto(live_server + f"/school/reports/?branch_id={school['town']}&year=2026")
    assert "张学习" in page.content()
    with page.expect_download() as download:
        page.get_by_role("link", name="导出 Excel").click()
    from openpyxl import load_workbook

    data = Path(download.value.path()).read_bytes()
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    member = next(row for row in rows if "张学习" in row)
    assert any(isinstance(v, (int, float)) and v > 0 for v in member), member
    page.context.close()


NO_NATIVE_HLS = """
const original = HTMLMediaElement.prototype.canPlayType;
HTMLMediaElement.prototype.canPlayType = function (type) {
  return /mpegurl/i.test(type) ? "" : original.call(this, type);
};
"""


def test_browsers_without_native_hls_fetch_hls_js_only_on_play(browser, live_server, school):
    """The lesson page ships without hls.js; pressing 播放 fetches it and the ladder plays."""
    context = browser.new_context(locale="zh-CN")
    context.add_init_script(NO_NATIVE_HLS)
    page = context.new_page()
    page.set_default_timeout(20000)
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    log_in(page, live_server, "dangyuan")
    page.goto(live_server + f"/school/courses/{school['course']}")
    page.get_by_test_id("start").click()
    page.wait_for_url("**/school/lessons/*")
    assert page.eval_on_selector("#lesson-player", "v => v.dataset.engine") == "pending"
    assert not any("hls" in url for url in fetched)
    page.get_by_role("button", name="播放视频").click()
    page.wait_for_function(
        "() => { const v = document.querySelector('#lesson-player');"
        " return v.dataset.engine === 'hls.js' && v.currentTime > 0.5 && !v.paused; }"
    )
    assert any(url.endswith("/static/vendor/hls.light.min.js") for url in fetched)
    assert any(".ts" in url or ".m4s" in url for url in fetched)  # segments, fetched through the grant
    context.close()


def test_school_pages_meet_wcag_aa(browser, live_server, school, axe_source, create_user):  # noqa: F811
    create_user("xiaozhang", roles=["admin"])
    page = browser.new_context(locale="zh-CN").new_page()
    log_in(page, live_server, "dangyuan")
    member = [
        "/school/",
        "/school/my",
        f"/school/courses/{school['course']}",
        f"/school/lessons/{school['lesson']}",
        f"/school/quizzes/{school['quiz']}",
        "/school/credits/",
    ]
    found = check(page, live_server, member, axe_source)
    page.goto(live_server + f"/school/quizzes/{school['quiz']}")
    page.get_by_role("button", name="开始测试").click()
    page.wait_for_url("**/attempts/*")
    found.update(check(page, live_server, [page.url[len(live_server) :]], axe_source))
    page.context.close()

    page = browser.new_context(locale="zh-CN").new_page()
    log_in(page, live_server, "xiaozhang")
    admin = [
        f"/school/reports/?branch_id={school['town']}&year=2026",
        "/admin/school/",
        f"/admin/school/courses/{school['course']}",
        f"/admin/school/lessons/{school['lesson']}",
        f"/admin/school/courses/{school['course']}/assignments",
        "/admin/school/categories",
        "/admin/school/questions/",
        "/admin/school/questions/import",
        "/admin/school/questions/quizzes",
        f"/admin/school/questions/quizzes/{school['quiz']}/edit",
        "/admin/school/credits/",
    ]
    found.update(check(page, live_server, admin, axe_source))
    page.context.close()
    assert found == {}
