"""Member pages: who sees what, the search box, enrolment, 我的学习, per-lesson progress."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from dangxiao.extensions import db
from dangxiao.school import study
from dangxiao.school.models import CourseAssignment, CourseCompletion, Enrollment, LessonAttachment, LessonProgress
from dangxiao.transactions import atomic


def assign(app, course_id: int, branch_id: int, days: int = 30, year: int | None = None) -> None:
    with app.app_context(), atomic():
        today = study.local_today()
        db.session.add(
            CourseAssignment(
                course_id=course_id, branch_id=branch_id, year=year or today.year, deadline=today + timedelta(days=days)
            )
        )


def progress(app, user_id: int, lesson_id: int, played: float, complete: bool = False) -> None:
    with app.app_context(), atomic():
        db.session.add(
            LessonProgress(
                user_id=user_id,
                lesson_id=lesson_id,
                intervals=[[0.0, played]],
                played=played,
                position=played,
                complete=complete,
            )
        )


def test_assigned_course_is_hidden_outside_the_branch_and_from_visitors(
    app, client, auth, make_course, create_branch, create_user
):
    town = create_branch("城关镇党委", kind="committee")
    inside = create_branch("一支部", parent=town)
    outside = create_branch("二支部")
    create_user("inner", branch=inside)
    create_user("outer", branch=outside)
    secret = make_course(required=True, open_to_all=False, title="内部必修课")
    make_course(title="公开选修课")
    assign(app, secret.id, town, days=5)

    # A visitor gets the introduction and a login link, never a course title.
    page = client.get("/school/").get_data(as_text=True)
    assert "登录" in page and "内部必修课" not in page and "公开选修课" not in page
    for url in (f"/school/courses/{secret.id}", f"/school/lessons/{secret.lesson_ids[0]}", "/school/my"):
        assert client.get(url).status_code == 302, url  # to the login page

    with app.app_context(), atomic():
        root = Path(app.config["MEDIA_ROOT"]) / "school"
        root.mkdir(parents=True, exist_ok=True)
        (root / "handout.pdf").write_bytes(b"%PDF-1.4 handout")
        item = LessonAttachment(
            lesson_id=secret.lesson_ids[0],
            filename="讲义.pdf",
            stored_path="school/handout.pdf",
            mimetype="application/pdf",
            size=16,
        )
        db.session.add(item)
        db.session.flush()
        attachment_url = f"/school/attachments/{item.id}"

    auth.login("outer")
    assert client.get(attachment_url).status_code == 404
    page = client.get("/school/").get_data(as_text=True)
    assert "公开选修课" in page and "内部必修课" not in page
    for url in (f"/school/courses/{secret.id}", f"/school/lessons/{secret.lesson_ids[0]}", "/school/courses/999999"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "内部必修课" not in response.get_data(as_text=True)
    assert client.post(f"/school/courses/{secret.id}/enrol").status_code == 404
    auth.logout()

    auth.login("inner")
    page = client.get("/school/").get_data(as_text=True)
    assert "内部必修课" in page and "必修" in page and "还剩 5 天" in page
    assert "理论学习 <span" in page  # the category tree with its count
    course = client.get(f"/school/courses/{secret.id}").get_data(as_text=True)
    assert "讲义.pdf" in course and attachment_url in course
    handout = client.get(attachment_url)
    assert handout.status_code == 200 and handout.data == b"%PDF-1.4 handout"
    assert "attachment" in handout.headers["Content-Disposition"]
    handout.close()
    assert "还剩 5 天" in course and "开始学习" in course and "报名学习" not in course  # required: no enrol
    assert client.get(f"/school/lessons/{secret.lesson_ids[1]}").status_code == 200


def test_search_survives_hostile_input_and_filters_titles(app, client, auth, make_course, create_user, monkeypatch):
    create_user("reader")
    make_course(title="学习达标100%课程", durations=(60.0,))
    make_course(title="a_b 专题", durations=(60.0,))
    make_course(title="普通课程", durations=(60.0,))
    make_course(title="党章党规 Quote's 课", durations=(60.0,), category="党章党规")
    auth.login("reader")

    def titles(q: str, **extra) -> str:
        response = client.get("/school/", query_string={"q": q, **extra})
        assert response.status_code == 200, q
        return response.get_data(as_text=True)

    page = titles("%")
    assert "学习达标100%课程" in page and "普通课程" not in page and "a_b 专题" not in page
    page = titles("_")
    assert "a_b 专题" in page and "普通课程" not in page
    assert "Quote&#39;s" in titles("quote's")  # case-insensitive, quotes bound not spliced
    for hostile in ("'; DROP TABLE school_courses; --", "\\", "\\%", "x" * 5000, "a\x00b", "%%__%%"):
        assert "普通课程" not in titles(hostile)
    assert "普通课程" in titles("课程") and "普通课程" in titles("\u202e课\u200b程")  # invisible marks dropped
    # A category filter keeps the other facets; junk page/category values fall back quietly.
    cat_page = titles("", category="999999999999", page="-3")
    assert "普通课程" in cat_page
    monkeypatch.setattr(study, "PAGE_SIZE", 2)
    first, second = titles("", page="1"), titles("", page="2")
    assert "第 1 / 2 页" in first and "下一页" in first and "第 2 / 2 页" in second
    assert titles("", page="99").count("data-course-id") == 2  # clamped to the last page


def test_enrol_is_idempotent_and_needs_csrf(app, client, auth, make_course, create_user, create_branch):
    branch_id = create_branch("报名支部")
    user_id = create_user("learner", branch=branch_id)
    elective = make_course(title="选修一")
    required = make_course(title="必修一", required=True)
    auth.login("learner")

    def enrolments() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.user_id == user_id))

    assert "报名学习" in client.get(f"/school/courses/{elective.id}").get_data(as_text=True)
    assert client.post(f"/school/courses/{elective.id}/enrol", csrf=False).status_code == 400
    assert enrolments() == 0
    first = client.post(f"/school/courses/{elective.id}/enrol", follow_redirects=True).get_data(as_text=True)
    assert "报名成功" in first and "已报名" in first and 'data-testid="enrol"' not in first
    again = client.post(f"/school/courses/{elective.id}/enrol", follow_redirects=True).get_data(as_text=True)
    assert "您已报名这门课程" in again
    assert enrolments() == 1
    assign(app, required.id, branch_id)  # a required course of the member's branch needs no enrolment
    assert client.post(f"/school/courses/{required.id}/enrol").status_code == 400
    assert enrolments() == 1


def test_my_page_orders_required_then_electives_then_started(
    app, client, auth, make_course, create_branch, create_user
):
    branch = create_branch("学习支部")
    user_id = create_user("busy", branch=branch)
    late = make_course(title="逾期必修课", required=True, open_to_all=False)
    soon = make_course(title="近期必修课", required=True, open_to_all=False)
    done = make_course(title="已完成必修课", required=True, open_to_all=False)
    elective = make_course(title="报名选修课")
    started = make_course(title="随便看看课")
    assign(app, late.id, branch, days=-3)
    assign(app, soon.id, branch, days=10)
    assign(app, done.id, branch, days=-1)
    with app.app_context(), atomic():
        db.session.add(Enrollment(user_id=user_id, course_id=elective.id))
        db.session.add(CourseCompletion(user_id=user_id, course_id=done.id))
    progress(app, user_id, started.lesson_ids[0], 120.0)
    auth.login("busy")

    page = client.get("/school/my").get_data(as_text=True)
    order = [page.index(t) for t in ("逾期必修课", "近期必修课", "已完成必修课", "报名选修课", "随便看看课")]
    assert order == sorted(order)
    assert page.index('data-testid="my-required"') < page.index('data-testid="my-electives"')
    late_card = page[page.index("逾期必修课") : page.index("近期必修课")]
    assert "已逾期 3 天" in late_card
    assert "还剩 10 天" in page
    assert "已逾期 1 天" not in page  # a completed course is not overdue
    assert "继续学习" in page[page.index("随便看看课") :]
    # 继续学习 goes to the lesson being watched.
    response = client.get(f"/school/courses/{started.id}/continue")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/lessons/{started.lesson_ids[0]}")


def test_course_page_shows_progress_per_lesson(app, client, auth, make_course, create_user):
    user_id = create_user("watcher")
    course = make_course(durations=(600.0, 1200.0, 300.0), title="进度课程")
    not_ready = make_course(title="准备中课程", ready=False)
    progress(app, user_id, course.lesson_ids[0], 600.0, complete=True)
    progress(app, user_id, course.lesson_ids[1], 300.0)
    auth.login("watcher")

    page = client.get(f"/school/courses/{course.id}").get_data(as_text=True)
    rows = page.split("data-lesson-id=")[1:]
    assert "已完成" in rows[0] and 'value="100"' in rows[0]
    assert "已学 25%" in rows[1] and 'value="25"' in rows[1]
    assert "未开始" in rows[2]
    assert "已学 1/3 讲" in page and "继续学习" in page
    assert f"/school/lessons/{course.lesson_ids[1]}" in page.split('data-testid="continue"')[0].rsplit("<a", 1)[1]
    assert "10:00" in page and "20:00" in page  # durations

    waiting = client.get(f"/school/lessons/{not_ready.lesson_ids[0]}")
    assert waiting.status_code == 200 and "正在准备中" in waiting.get_data(as_text=True)
    lesson = client.get(f"/school/lessons/{course.lesson_ids[1]}").get_data(as_text=True)
    assert "上一讲：第1讲" in lesson and "下一讲：第3讲" in lesson and "正在准备中" not in lesson
