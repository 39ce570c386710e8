"""Admin pages that build the catalogue: courses, lessons, attachments, categories, assignments.

Thin wrappers over ``catalogue`` and ``files``: each POST runs one service call in one
transaction; a DomainError comes back next to its field or as a page message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from dangxiao.access import role
from dangxiao.accounts import branches as branch_service
from dangxiao.errors import DomainError
from dangxiao.forms_util import Form, attach_error, options
from dangxiao.queries import id_arg
from dangxiao.school import catalogue, files
from dangxiao.transactions import atomic

bp = Blueprint("school_admin", __name__, url_prefix="/admin/school")
VIEWS = (
    "courses",
    "course_new",
    "course_edit",
    "course_publish",
    "course_unpublish",
    "course_delete",
    "cover_upload",
    "cover_delete",
    "lesson_new",
    "lesson_edit",
    "lesson_delete",
    "lesson_move",
    "attachment_add",
    "attachment_delete",
    "categories",
    "category_edit",
    "category_move",
    "category_delete",
    "assignments",
    "assignment_edit",
    "assignment_delete",
)
BLUEPRINTS = [(bp, {view: role("admin") for view in VIEWS})]
#: Attachments may be 20 MB; the app-wide form limit is lower. Set before CSRF reads the body.
ATTACHMENT_REQUEST_LIMIT = files.ATTACHMENT_MAX_BYTES + 1024 * 1024


@bp.url_value_preprocessor
def _raise_upload_limit(endpoint: str | None, _values: Any) -> None:
    if endpoint == "school_admin.attachment_add":
        request.max_content_length = ATTACHMENT_REQUEST_LIMIT


class CourseForm(Form):
    title = StringField("课程名称")
    category_id = SelectField("分类", coerce=int, validate_choice=False)
    teacher = StringField("主讲人")
    year = StringField("年度")
    summary = TextAreaField("课程简介（支持 Markdown）", render_kw={"rows": 8})
    required = BooleanField("必修课程（指派给组织，按年度完成）")
    open_to_all = BooleanField("所有党员可选学")
    credit_hours = StringField("学时（留空则按课时时长自动计算）")
    attention_minutes = StringField("专注提醒：无操作多少分钟后暂停询问（1–120，留空不提醒）")


class LessonForm(Form):
    title = StringField("课时名称")
    asset_id = SelectField("播放的媒体（仅列出可播放的）", coerce=int, validate_choice=False)


def _category_choices(empty: str) -> list:
    return options([(0, empty)] + [(c.id, "　" * depth + c.name) for c, depth in catalogue.category_tree()])


def _run(action: Callable[[], Any], success: str | Callable[[Any], str], target: str) -> Response:
    """One service call in one transaction; flash the outcome and go to `target`."""
    try:
        with atomic():
            result = action()
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(success(result) if callable(success) else success, "success")
    return redirect(target)


# ---------------------------------------------------------------- courses


@bp.get("/")
def courses():
    category_id = id_arg(request.args.get("category_id"))
    published = {"1": True, "0": False}.get(request.args.get("published", ""))
    query = request.args.get("q", "")[:100].strip()
    return render_template(
        "school/admin/courses.html",
        rows=catalogue.list_courses(category_id, published, query),
        categories=catalogue.category_tree(),
        category_id=category_id or 0,
        published=request.args.get("published", ""),
        q=query,
    )


def _course_fields(form: CourseForm) -> dict[str, Any]:
    return {
        "title": form.title.data or "",
        "year": form.year.data or "",
        "summary": form.summary.data or "",
        "teacher": form.teacher.data or "",
        "required": bool(form.required.data),
        "open_to_all": bool(form.open_to_all.data),
        "credit_hours": form.credit_hours.data,
        "attention_minutes": form.attention_minutes.data,
        "category_id": form.category_id.data or None,
    }


def _course_form_page(form: CourseForm, course=None) -> tuple[str, int] | Response:
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                saved = catalogue.save_course(current_user, course.id if course else None, **_course_fields(form))
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash(f"已保存课程{catalogue.book(saved.title)}。", "success")
            return redirect(url_for("school_admin.course_edit", course_id=saved.id))
    elif request.method == "POST":
        status = 400
    if course is None:
        return render_template("school/admin/course_new.html", form=form), status
    return _course_page(course, form), status


def _course_page(course, form: CourseForm) -> str:
    return render_template(
        "school/admin/course_edit.html",
        course=course,
        form=form,
        cover_url=catalogue.cover_url(course),
        assignments=catalogue.course_assignments(course.id),
        auto_credit=catalogue.auto_credit_hours([lesson.duration for lesson in course.lessons]),
    )


@bp.route("/courses/new", methods=["GET", "POST"])
def course_new():
    form = CourseForm()
    form.category_id.choices = _category_choices("（未分类）")
    if request.method == "GET":
        form.year.data = str(catalogue.this_year())
        form.open_to_all.data = True
        form.category_id.data = id_arg(request.args.get("category_id")) or 0
    return _course_form_page(form)


@bp.route("/courses/<int:course_id>", methods=["GET", "POST"])
def course_edit(course_id: int):
    course = catalogue.get_course(course_id)
    form = CourseForm(obj=course)
    form.category_id.choices = _category_choices("（未分类）")
    if request.method == "GET":
        form.category_id.data = course.category_id or 0
        form.year.data = str(course.year)
        form.credit_hours.data = f"{course.credit_hours:g}"
        form.attention_minutes.data = str(course.attention_minutes or "")
    return _course_form_page(form, course)


@bp.post("/courses/<int:course_id>/publish")
def course_publish(course_id: int):
    return _run(
        lambda: catalogue.publish_course(current_user, course_id),
        lambda c: f"课程{catalogue.book(c.title)}已发布。",
        url_for("school_admin.course_edit", course_id=course_id),
    )


@bp.post("/courses/<int:course_id>/unpublish")
def course_unpublish(course_id: int):
    return _run(
        lambda: catalogue.unpublish_course(current_user, course_id),
        lambda c: f"课程{catalogue.book(c.title)}已取消发布，学员暂时看不到它。",
        url_for("school_admin.course_edit", course_id=course_id),
    )


@bp.route("/courses/<int:course_id>/delete", methods=["GET", "POST"])
def course_delete(course_id: int):
    """GET asks for confirmation (no script needed); POST deletes or says why it cannot."""
    course = catalogue.get_course(course_id)
    if request.method == "POST":
        try:
            with atomic():
                title = catalogue.delete_course(current_user, course_id)
        except DomainError as error:
            flash(error.message, "error")
            return redirect(url_for("school_admin.course_edit", course_id=course_id))
        flash(f"课程{catalogue.book(title)}已删除。", "success")
        return redirect(url_for("school_admin.courses"))
    return render_template("school/admin/course_delete.html", course=course)


@bp.post("/courses/<int:course_id>/cover")
def cover_upload(course_id: int):
    upload = request.files.get("file")
    return _run(
        lambda: files.save_cover(current_user, course_id, upload.stream if upload else b""),
        "封面已更新。",
        url_for("school_admin.course_edit", course_id=course_id),
    )


@bp.post("/courses/<int:course_id>/cover/delete")
def cover_delete(course_id: int):
    return _run(
        lambda: files.remove_cover(current_user, course_id),
        "封面已移除。",
        url_for("school_admin.course_edit", course_id=course_id),
    )


# ---------------------------------------------------------------- lessons


def _asset_choices() -> list:
    from dangxiao.templating import duration

    return options(
        [(0, "（请选择）")] + [(a.id, f"{a.title}（{duration(a.duration)}）") for a in catalogue.ready_assets()]
    )


def _lesson_form_page(form: LessonForm, course, lesson=None) -> tuple[str, int] | Response:
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                if lesson is None:
                    saved = catalogue.add_lesson(current_user, course.id, form.title.data, form.asset_id.data)
                else:
                    saved = catalogue.update_lesson(current_user, lesson.id, form.title.data, form.asset_id.data)
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash(f"已保存课时“{saved.title}”。", "success")
            return redirect(url_for("school_admin.course_edit", course_id=course.id) + "#lessons")
    elif request.method == "POST":
        status = 400
    return render_template("school/admin/lesson_form.html", form=form, course=course, lesson=lesson), status


@bp.route("/courses/<int:course_id>/lessons/new", methods=["GET", "POST"])
def lesson_new(course_id: int):
    course = catalogue.get_course(course_id)
    form = LessonForm()
    form.asset_id.choices = _asset_choices()
    if request.method == "GET":
        form.title.data = f"第{len(course.lessons) + 1}讲"
    return _lesson_form_page(form, course)


@bp.route("/lessons/<int:lesson_id>", methods=["GET", "POST"])
def lesson_edit(lesson_id: int):
    lesson = catalogue.get_lesson(lesson_id)
    form = LessonForm(obj=lesson)
    form.asset_id.choices = _asset_choices()
    return _lesson_form_page(form, lesson.course, lesson)


@bp.post("/lessons/<int:lesson_id>/delete")
def lesson_delete(lesson_id: int):
    course_id = catalogue.get_lesson(lesson_id).course_id
    return _run(
        lambda: catalogue.delete_lesson(current_user, lesson_id),
        lambda title: f"课时“{title}”已删除。",
        url_for("school_admin.course_edit", course_id=course_id) + "#lessons",
    )


@bp.post("/lessons/<int:lesson_id>/move")
def lesson_move(lesson_id: int):
    course_id = catalogue.get_lesson(lesson_id).course_id
    direction = request.form.get("direction", "")
    return _run(
        lambda: catalogue.move_lesson(current_user, lesson_id, direction),
        "课时顺序已调整。",
        url_for("school_admin.course_edit", course_id=course_id) + "#lessons",
    )


@bp.post("/lessons/<int:lesson_id>/attachments")
def attachment_add(lesson_id: int):
    catalogue.get_lesson(lesson_id)
    upload = request.files.get("file")
    return _run(
        lambda: files.add_attachment(
            current_user, lesson_id, upload.filename if upload else "", upload.stream if upload else b""
        ),
        lambda a: f"已添加附件“{a.filename}”。",
        url_for("school_admin.lesson_edit", lesson_id=lesson_id) + "#attachments",
    )


@bp.post("/attachments/<int:attachment_id>/delete")
def attachment_delete(attachment_id: int):
    attachment = files.get_attachment(attachment_id)
    filename, lesson_id = attachment.filename, attachment.lesson_id
    return _run(
        lambda: files.delete_attachment(current_user, attachment_id),
        f"附件“{filename}”已删除。",
        url_for("school_admin.lesson_edit", lesson_id=lesson_id) + "#attachments",
    )


# ---------------------------------------------------------------- categories


@bp.route("/categories", methods=["GET", "POST"])
def categories():
    if request.method == "POST":
        return _run(
            lambda: catalogue.create_category(
                current_user, request.form.get("name", ""), id_arg(request.form.get("parent_id"))
            ),
            lambda c: f"已添加分类“{c.name}”。",
            url_for("school_admin.categories"),
        )
    return render_template(
        "school/admin/categories.html",
        rows=catalogue.category_tree(),
        parent_choices=_category_choices("（顶级分类）"),
    )


@bp.post("/categories/<int:category_id>")
def category_edit(category_id: int):
    """Rename and/or move under another parent (one form per row)."""
    catalogue.get_category(category_id)
    name, parent_id = request.form.get("name", ""), id_arg(request.form.get("parent_id"))

    def action():
        catalogue.rename_category(current_user, category_id, name)
        return catalogue.move_category(current_user, category_id, parent_id)

    return _run(action, lambda c: f"已保存分类“{c.name}”。", url_for("school_admin.categories"))


@bp.post("/categories/<int:category_id>/move")
def category_move(category_id: int):
    direction = request.form.get("direction", "")
    return _run(
        lambda: catalogue.reorder_category(current_user, category_id, direction),
        "分类顺序已调整。",
        url_for("school_admin.categories"),
    )


@bp.post("/categories/<int:category_id>/delete")
def category_delete(category_id: int):
    return _run(
        lambda: catalogue.delete_category(current_user, category_id),
        lambda name: f"分类“{name}”已删除。",
        url_for("school_admin.categories"),
    )


# ---------------------------------------------------------------- assignments


@bp.route("/courses/<int:course_id>/assignments", methods=["GET", "POST"])
def assignments(course_id: int):
    course = catalogue.get_course(course_id)
    if request.method == "POST":
        form = request.form
        return _run(
            lambda: catalogue.assign_course(
                current_user, course.id, id_arg(form.get("branch_id")), form.get("year", ""), form.get("deadline", "")
            ),
            lambda a: f"已指派给“{a.branch.name}”，截止 {a.deadline.isoformat()}。",
            url_for("school_admin.assignments", course_id=course.id),
        )
    return render_template(
        "school/admin/assignments.html",
        course=course,
        rows=catalogue.course_assignments(course.id),
        branches=branch_service.tree_rows(),
        year=catalogue.this_year(),
        today=catalogue.today(),
    )


@bp.post("/assignments/<int:assignment_id>")
def assignment_edit(assignment_id: int):
    course_id = catalogue.get_assignment(assignment_id).course_id
    return _run(
        lambda: catalogue.update_assignment(current_user, assignment_id, request.form.get("deadline", "")),
        lambda a: f"截止日期已改为 {a.deadline.isoformat()}。",
        url_for("school_admin.assignments", course_id=course_id),
    )


@bp.post("/assignments/<int:assignment_id>/delete")
def assignment_delete(assignment_id: int):
    course_id = catalogue.get_assignment(assignment_id).course_id
    return _run(
        lambda: catalogue.remove_assignment(current_user, assignment_id),
        "指派已撤销。",
        url_for("school_admin.assignments", course_id=course_id),
    )
