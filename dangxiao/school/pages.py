"""Member pages of the school: catalogue, course, lesson, 我的学习, enrolment, handouts.

Views only translate requests into ``study`` calls; a course the member may not see is a
404 whatever the reason, so its existence is not revealed. The player, quizzes, credit bar
and covers come from their own modules (``watch``, ``quizzes``, ``credits``, ``catalogue``)
and are imported where used, keeping this blueprint importable on its own.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from dangxiao.access import LOGIN, PUBLIC
from dangxiao.errors import NotFound
from dangxiao.extensions import db
from dangxiao.queries import id_arg
from dangxiao.school import study
from dangxiao.school.models import LessonAttachment
from dangxiao.transactions import atomic

bp = Blueprint("school", __name__, url_prefix="/school")
BLUEPRINTS = [
    (
        bp,
        {
            "index": PUBLIC,
            "course": LOGIN,
            "enrol": LOGIN,
            "resume": LOGIN,
            "lesson": LOGIN,
            "my": LOGIN,
            "attachment": LOGIN,
        },
    )
]


def _cover_url():
    from dangxiao.school.catalogue import cover_url

    return cover_url


@bp.get("/")
def index():
    """The catalogue for members; a short introduction and a login link for visitors."""
    if not current_user.is_authenticated:
        return render_template("school/index.html", page=None)
    page = study.catalogue(
        current_user,
        category_id=id_arg(request.args.get("category")),
        q=request.args.get("q", ""),
        page=id_arg(request.args.get("page")) or 1,
    )
    return render_template("school/index.html", page=page, cover_url=_cover_url())


@bp.get("/courses/<int:course_id>")
def course(course_id: int):
    from dangxiao.school import quizzes, watch

    view = study.course_view(current_user, course_id)
    resume = watch.resume_point(current_user.id, view.course.id)
    return render_template(
        "school/course.html",
        view=view,
        course=view.course,
        resume=resume,
        quizzes=quizzes.for_course(current_user, view.course.id),
        cover_url=_cover_url(),
    )


@bp.post("/courses/<int:course_id>/enrol")
def enrol(course_id: int):
    """报名学习: idempotent (a second click says it is already done)."""
    with atomic():
        created = study.enrol(current_user, course_id)
    flash("报名成功，开始学习吧。" if created else "您已报名这门课程。", "success")
    return redirect(url_for("school.course", course_id=course_id))


@bp.get("/courses/<int:course_id>/continue")
def resume(course_id: int):
    """继续学习: the lesson the member was last watching (the player resumes the position)."""
    from dangxiao.school import watch

    view = study.course_view(current_user, course_id)
    point = watch.resume_point(current_user.id, view.course.id)
    if point is not None:
        return redirect(url_for("school.lesson", lesson_id=point[0]))
    first = next((row.lesson for row in view.rows if not row.complete), None) or (
        view.rows[0].lesson if view.rows else None
    )
    if first is None:
        flash("这门课程还没有课时。", "info")
        return redirect(url_for("school.course", course_id=course_id))
    return redirect(url_for("school.lesson", lesson_id=first.id))


@bp.get("/lessons/<int:lesson_id>")
def lesson(lesson_id: int):
    from dangxiao.policy import require
    from media.library import asset_urls

    view = study.lesson_view(current_user, lesson_id)
    asset = view.lesson.asset
    urls = None
    if asset is not None and asset.is_ready:
        require(current_user, "school.watch_lesson", view.lesson)
        urls = asset_urls(asset, f"u{current_user.id}")
    return render_template(
        "school/lesson.html", view=view, lesson=view.lesson, course=view.course, urls=urls, rows=view.rows
    )


@bp.get("/my")
def my():
    from dangxiao.school import credits

    mine = study.my_study(current_user)
    return render_template(
        "school/my.html", mine=mine, credit_bar=credits.summary(current_user, mine.year), cover_url=_cover_url()
    )


@bp.get("/attachments/<int:attachment_id>")
def attachment(attachment_id: int):
    """A lesson handout, for members who may see the lesson's course."""
    from media import storage

    item = db.session.get(LessonAttachment, attachment_id)
    if item is None:
        raise NotFound("附件不存在。")
    study.visible_course(current_user, item.lesson.course_id)
    try:
        path = storage.absolute(item.stored_path)
    except ValueError:
        raise NotFound("附件不存在。") from None
    if not path.is_file():
        raise NotFound("附件文件已丢失，请联系管理员。")
    response = send_file(path, mimetype=item.mimetype, as_attachment=True, download_name=item.filename, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
