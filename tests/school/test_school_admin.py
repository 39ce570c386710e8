"""The admin pages that build the catalogue, and covers/attachments checked by content."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image
from sqlalchemy import select

from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.school import catalogue
from dangxiao.school.models import Category, Course, Lesson, LessonAttachment
from dangxiao.transactions import atomic
from media import storage

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _png(width: int = 1600, height: int = 900) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 16, 46, 128)).save(out, "PNG")
    return out.getvalue()


def _upload(client, url: str, data: bytes, name: str):
    return client.post(url, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_admin_pages_are_for_admins_only(client, auth, create_user, make_course):
    made = make_course()
    urls = ["/admin/school/", f"/admin/school/courses/{made.id}", "/admin/school/categories"]
    assert client.get(urls[0]).status_code == 302  # visitors go to the login page
    create_user("member1")
    auth.login("member1")
    for url in urls + [f"/admin/school/lessons/{made.lesson_ids[0]}"]:
        assert client.get(url).status_code == 403, url
    assert client.post(f"/admin/school/courses/{made.id}/unpublish").status_code == 403
    assert client.post("/admin/school/categories", data={"name": "x"}).status_code == 403


def test_admin_builds_a_course_through_the_pages(app, client, auth, create_user, create_branch, make_course):
    donor = make_course(durations=(1800.0, 600.0))  # supplies two ready assets
    town = create_branch("城关镇党总支", "general_branch")
    create_user("boss", roles=["admin"])
    auth.login("boss")

    page = client.post("/admin/school/categories", data={"name": "党史学习", "parent_id": ""})
    assert page.status_code == 302
    with app.app_context():
        category_id = db.session.scalar(select(Category.id).where(Category.name == "党史学习"))
    assert "党史学习" in client.get("/admin/school/categories").get_data(as_text=True)

    empty = client.post("/admin/school/courses/new", data={"title": " ", "year": "2026"})
    assert empty.status_code == 400 and "请填写课程名称" in empty.get_data(as_text=True)
    bad_year = client.post("/admin/school/courses/new", data={"title": "党史上的今天", "year": "1999"})
    assert bad_year.status_code == 400 and "年度应在 2000" in bad_year.get_data(as_text=True)
    created = client.post(
        "/admin/school/courses/new",
        data={"title": "党史上的今天", "year": "2026", "category_id": str(category_id), "required": "y"},
    )
    assert created.status_code == 302
    course_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[-1])

    refused = client.post(f"/admin/school/courses/{course_id}/publish", follow_redirects=True)
    assert "课程还没有课时" in refused.get_data(as_text=True)
    form = client.get(f"/admin/school/courses/{course_id}/lessons/new").get_data(as_text=True)
    assert "课件" in form and "/admin/media/upload" in form  # ready assets listed, upload link
    for title, asset_id in (("南昌起义", donor.asset_ids[0]), ("遵义会议", donor.asset_ids[1])):
        response = client.post(
            f"/admin/school/courses/{course_id}/lessons/new", data={"title": title, "asset_id": str(asset_id)}
        )
        assert response.status_code == 302
    with app.app_context():
        lessons = list(db.session.scalars(select(Lesson).where(Lesson.course_id == course_id)))
        second = [lesson.id for lesson in lessons if lesson.title == "遵义会议"][0]
    client.post(f"/admin/school/lessons/{second}/move", data={"direction": "up"})
    client.post(f"/admin/school/courses/{course_id}/publish")
    with app.app_context():
        course = db.session.get(Course, course_id)
        assert [lesson.title for lesson in course.lessons] == ["遵义会议", "南昌起义"]
        assert course.published and course.required and course.credit_hours == 1.25
    listing = client.get(f"/admin/school/?q=党史&published=1&category_id={category_id}").get_data(as_text=True)
    assert "党史上的今天" in listing
    assert "党史上的今天" not in client.get("/admin/school/?published=0").get_data(as_text=True)

    with app.app_context():
        deadline = (catalogue.today() + timedelta(days=20)).isoformat()
    url = f"/admin/school/courses/{course_id}/assignments"
    client.post(url, data={"branch_id": str(town), "year": deadline[:4], "deadline": deadline})
    again = client.post(url, data={"branch_id": str(town), "year": deadline[:4], "deadline": deadline})
    text = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "不能重复指派" in text and text.count("城关镇党总支") >= 2

    for page in ("/admin/school/courses/new", f"/admin/school/courses/{course_id}/delete"):
        assert client.get(page).status_code == 200
    deleted = client.post(f"/admin/school/categories/{category_id}/delete", follow_redirects=True)
    assert "还有 1 门课程" in deleted.get_data(as_text=True)


def test_cover_is_checked_by_content_and_reencoded(app, client, auth, create_user, make_course):
    shown, hidden = make_course(), make_course(open_to_all=False)
    create_user("boss", roles=["admin"])
    auth.login("boss")

    fake = _upload(client, f"/admin/school/courses/{shown.id}/cover", b"just some text, not a picture", "cover.jpg")
    assert "纯文本文件" in client.get(fake.headers["Location"]).get_data(as_text=True)
    for made in (shown, hidden):
        assert _upload(client, f"/admin/school/courses/{made.id}/cover", _png(), "封面.png").status_code == 302
    with app.app_context():
        course = db.session.get(Course, shown.id)
        assert course.cover_path.startswith("school/covers/")
        with Image.open(storage.absolute(course.cover_path)) as image:
            assert (image.format, image.width, image.height) == ("JPEG", 800, 450)
        with app.test_request_context():
            url = catalogue.cover_url(course)
        hidden_url = f"/school/covers/{hidden.id}.jpg"

    create_user("member1")
    auth.logout()
    auth.login("member1")
    with client.get(url) as response:
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert response.data.startswith(b"\xff\xd8\xff")
    assert client.get(hidden_url).status_code == 403


def test_attachments_checked_by_content_and_downloaded_by_those_who_may_watch(
    app, client, auth, create_user, create_branch, make_course
):
    inside, outside = create_branch("城关镇东街村党支部"), create_branch("青山乡茶园村党支部")
    made = make_course(required=True, open_to_all=False)
    with app.app_context(), atomic():
        deadline = catalogue.today() + timedelta(days=30)
        catalogue.assign_course(SYSTEM, made.id, inside, deadline.year, deadline)
    create_user("boss", roles=["admin"])
    auth.login("boss")
    url = f"/admin/school/lessons/{made.lesson_ids[0]}/attachments"

    for data, kind in ((b"MZ\x90\x00" + b"\x00" * 60, "Windows 可执行程序"), (b"<!DOCTYPE html><script>", "网页")):
        refused = _upload(client, url, data, "讲义.pdf")
        assert kind in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert _upload(client, url, PDF, "第一讲讲义.pdf").status_code == 302
    with app.app_context():
        attachment = db.session.scalar(select(LessonAttachment))
        assert (attachment.filename, attachment.mimetype, attachment.size) == (
            "第一讲讲义.pdf",
            "application/pdf",
            len(PDF),
        )
        assert attachment.stored_path.startswith("school/attachments/") and "讲义" not in attachment.stored_path
        assert storage.absolute(attachment.stored_path).read_bytes() == PDF
    download = f"/school/attachments/{attachment.id}"

    create_user("far", branch=outside)
    auth.logout()
    auth.login("far")
    assert client.get(download).status_code in (403, 404)  # refused (a 404 hides that the course exists)
    create_user("near", branch=inside)
    auth.logout()
    auth.login("near")
    with client.get(download) as response:
        assert response.status_code == 200 and response.data == PDF
        disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "filename*=UTF-8''" in disposition

    auth.logout()
    auth.login("boss")
    client.post(f"/admin/school/attachments/{attachment.id}/delete")
    with app.app_context():
        assert db.session.get(LessonAttachment, attachment.id) is None
        assert not storage.absolute(attachment.stored_path).exists()
