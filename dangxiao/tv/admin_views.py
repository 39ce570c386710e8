"""系统管理 › 接收站点: register stations, edit them, rotate, revoke and restore their keys.

Thin wrappers over :mod:`dangxiao.tv.devices`. A key is shown once, in the response to the
POST that issued it (never in a redirect URL, flash or session), with ``Cache-Control:
no-store``; afterwards only its first characters are shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError
from wtforms import SelectField, StringField

from dangxiao.access import role
from dangxiao.accounts import branches as branch_service
from dangxiao.errors import DomainError
from dangxiao.forms_util import Form, attach_error, options, run_and_flash
from dangxiao.transactions import atomic
from dangxiao.tv import devices

bp = Blueprint("tv_admin", __name__, url_prefix="/admin/tv")
ADMIN = role("admin")
ACCESS = {view: ADMIN for view in ("index", "new", "edit", "rotate", "revoke", "restore")}
BLUEPRINTS = [(bp, ACCESS, False)]

# (label, endpoint, path used when the endpoint is not registered)
FEEDS = (
    ("M3U 播放列表（VLC、Kodi IPTV Simple Client）", "tv_feeds.m3u", "/tv/playlist.m3u"),
    ("MacCMS 接口（TVBox 类应用）", "tv_feeds.maccms", "/api.php/provide/vod/"),
    ("JSON 课程目录", "tv_api.catalog", "/api/tv/v1/catalog"),
    ("电视页面（机顶盒浏览器）", "tv_ui.index", "/tv/"),
)


class StationForm(Form):
    # The branch select does not validate choices: the service refuses unknown ids with its own message.
    name = StringField("站点名称", render_kw={"maxlength": devices.NAME_MAX, "autocomplete": "off"})
    village = StringField("所在村（社区）", render_kw={"maxlength": devices.VILLAGE_MAX})
    branch_id = SelectField("所属党组织", coerce=int, validate_choice=False)
    contact = StringField("联系人及电话", render_kw={"maxlength": devices.CONTACT_MAX})


class ConfirmForm(Form):
    """Carries the CSRF token of a confirm button."""


def _form(device=None) -> StationForm:
    form = StationForm(obj=device)
    form.branch_id.choices = options(
        [(0, "（请选择）")] + [(b.id, "　" * depth + b.name) for b, depth in branch_service.tree_rows()]
    )
    if request.method == "GET" and device is not None:
        form.branch_id.data = device.branch_id
    return form


def _site_path(endpoint: str, fallback: str) -> str:
    try:
        return url_for(endpoint)
    except BuildError:  # the feed is not registered (yet): its documented path
        return request.script_root + fallback


def key_usage(key: str) -> dict:
    """The three ways a box can send `key`, with the feed URLs built for each."""
    base = devices.key_base(key)
    feeds = [(label, devices.under_base(base, _site_path(endpoint, path))) for label, endpoint, path in FEEDS]
    catalog = devices.under_base(request.url_root, _site_path("tv_api.catalog", "/api/tv/v1/catalog"))
    return {
        "base": base,
        "feeds": feeds,
        "header": f"{devices.KEY_HEADER}: {key}",
        "query": f"{catalog}?{devices.KEY_ARG}={key}",
    }


def _key_page(device, key: str, title: str):
    response = make_response(
        render_template("tv_admin/key.html", device=device, key=key, title=title, **key_usage(key))
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/")
def index():
    return render_template("tv_admin/index.html", devices=devices.list_devices())


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = _form()
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                device, key = devices.create_device(
                    current_user, form.name.data, form.branch_id.data, form.village.data, form.contact.data
                )
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            return _key_page(device, key, "接收站点已登记")
    elif request.method == "POST":
        status = 400
    return render_template("tv_admin/form.html", form=form, device=None), status


@bp.route("/<int:device_id>", methods=["GET", "POST"])
def edit(device_id: int):
    device = devices.get_device(device_id)
    form = _form(device)
    status = 200
    if form.validate_on_submit():
        try:
            with atomic():
                devices.update_device(
                    current_user,
                    device_id,
                    name=form.name.data,
                    village=form.village.data,
                    contact=form.contact.data,
                    branch_id=form.branch_id.data,
                )
        except DomainError as error:
            attach_error(form, error)
            status = 400
        else:
            flash("站点信息已保存。", "success")
            return redirect(url_for("tv_admin.index"))
    elif request.method == "POST":
        status = 400
    return render_template("tv_admin/form.html", form=form, device=device), status


@bp.route("/<int:device_id>/rotate", methods=["GET", "POST"])
def rotate(device_id: int):
    device = devices.get_device(device_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            with atomic():
                device, key = devices.rotate_key(current_user, device_id)
        except DomainError as error:
            flash(error.message, "error")
            return redirect(url_for("tv_admin.index"))
        return _key_page(device, key, "已更换密钥")
    return render_template("tv_admin/confirm.html", device=device, form=form, action="rotate")


def _confirm(device_id: int, action: str, service: Callable[[Any, int], Any], done: str):
    """A confirmation page (GET) and the one-button action it confirms (POST)."""
    device = devices.get_device(device_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        message = done.format(name=device.name)
        return run_and_flash(lambda: service(current_user, device_id), message, url_for("tv_admin.index"))
    return render_template("tv_admin/confirm.html", device=device, form=form, action=action)


@bp.route("/<int:device_id>/revoke", methods=["GET", "POST"])
def revoke(device_id: int):
    return _confirm(device_id, "revoke", devices.revoke, "已吊销“{name}”的密钥，该站点的机顶盒已无法访问。")


@bp.route("/<int:device_id>/restore", methods=["GET", "POST"])
def restore(device_id: int):
    return _confirm(device_id, "restore", devices.restore, "已恢复“{name}”，原密钥重新生效。")
