"""The public FAQ page and the answer-template admin (handlers and admins).

The access table only asks for a login on the admin pages; who may manage templates is the
``help.templates`` policy (admins and handlers anywhere), checked here and again in the
services, so a plain member gets the same 403 from a page, a form post or the JSON.
"""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from dangxiao.access import LOGIN, PUBLIC
from dangxiao.errors import DomainError
from dangxiao.forms_util import Form, attach_error, options, run_and_flash
from dangxiao.policy import require
from dangxiao.transactions import atomic
from forum.helpdesk import faq as faq_service
from forum.helpdesk.models import HelpCategory, HelpTemplate

bp = Blueprint("help_faq", __name__, url_prefix="/help")
ACCESS = {
    "faq": PUBLIC,
    **{
        view: LOGIN
        for view in (
            "templates",
            "template_new",
            "template_edit",
            "template_delete",
            "template_publish",
            "template_json",
        )
    },
}


class TemplateForm(Form):
    # The select does not validate choices: the service refuses an unknown category with its own message.
    title = StringField("问题（标题）", render_kw={"maxlength": faq_service.TITLE_MAX})
    body = TextAreaField("答复内容", render_kw={"rows": 8, "maxlength": faq_service.BODY_MAX})
    category = SelectField("问题类别", validate_choice=False)
    published = BooleanField("在“常见问题”页面公开")
    position = StringField("排序（数字小的在前）", render_kw={"inputmode": "numeric"})


def _manager() -> None:
    require(current_user, "help.templates", message="只有管理员和求助处理人员可以管理答复模板。")


def _form(template: HelpTemplate | None) -> TemplateForm:
    form = TemplateForm(obj=template)
    form.category.choices = options([("", "通用（不限类别）")] + HelpCategory.choices())
    if request.method == "GET":
        if template is None:
            form.published.data = True
        else:
            form.category.data = template.category.value if template.category else ""
            form.position.data = str(template.position)
    return form


def _form_page(template: HelpTemplate | None):
    _manager()
    form = _form(template)
    status = 200
    if form.validate_on_submit():
        values = {
            "title": form.title.data,
            "body": form.body.data,
            "category": form.category.data or None,
            "published": bool(form.published.data),
            "position": form.position.data,
        }
        try:
            with atomic():
                if template is None:
                    saved = faq_service.add_template(current_user, **values)
                else:
                    saved = faq_service.update_template(current_user, template.id, **values)
                title = saved.title
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash(f"已保存模板“{title}”。", "success")
            return redirect(url_for("help_faq.templates"))
    elif request.method == "POST":
        status = 400
    return render_template("helpdesk/template_form.html", form=form, template=template), status


@bp.route("/faq")
def faq():
    """常见问题: the published templates by category, each with an anchor to link from an answer."""
    entries = faq_service.published()
    return render_template("helpdesk/faq.html", groups=faq_service.grouped(entries), count=len(entries))


@bp.route("/templates/")
def templates():
    _manager()
    return render_template("helpdesk/templates.html", rows=faq_service.all_templates())


@bp.route("/templates/new", methods=["GET", "POST"])
def template_new():
    return _form_page(None)


@bp.route("/templates/<int:template_id>/edit", methods=["GET", "POST"])
def template_edit(template_id: int):
    _manager()
    return _form_page(faq_service.get_template(template_id))


def _action(run, done: str):
    return run_and_flash(run, done, url_for("help_faq.templates"))


@bp.route("/templates/<int:template_id>/delete", methods=["POST"])
def template_delete(template_id: int):
    _manager()
    title = faq_service.get_template(template_id).title
    return _action(lambda: faq_service.delete_template(current_user, template_id), f"已删除模板“{title}”。")


@bp.route("/templates/<int:template_id>/publish", methods=["POST"])
def template_publish(template_id: int):
    """Set the published flag to the submitted value (a resubmitted form changes nothing more)."""
    _manager()
    wanted = request.form.get("published", "")
    if wanted not in ("1", "0"):
        flash("提交的内容不正确，请重试。", "error")
        return redirect(url_for("help_faq.templates"))
    title = faq_service.get_template(template_id).title
    done = f"已{'公开' if wanted == '1' else '取消公开'}“{title}”。"
    return _action(lambda: faq_service.set_published(current_user, template_id, wanted == "1"), done)


@bp.route("/templates/<int:template_id>.json")
def template_json(template_id: int):
    """The text a handler inserts into the answer box (and then edits)."""
    _manager()
    template = faq_service.get_template(template_id)
    return jsonify({"id": template.id, "title": template.title, "body": template.body})
