"""Admin pages of the media library: list, upload, asset status and player, actions."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from dangxiao.access import role
from dangxiao.errors import DomainError
from media import jobs, library
from media.models import ASSET_STATUS_LABELS, AssetStatus

bp = Blueprint("media_admin", __name__, url_prefix="/admin/media")
ACCESS = {view: role("admin") for view in (
    "library_page", "upload_page", "asset_page", "asset_retry", "asset_cancel", "asset_delete")}

TERMINAL = {AssetStatus.ready.value, AssetStatus.failed.value, AssetStatus.cancelled.value}


def register_blueprints(app: Flask) -> None:
    """Called by dangxiao.create_app: admin pages, the JSON API and file delivery."""
    from dangxiao import access
    from media import api, delivery

    access.register(app, bp, ACCESS)
    access.register(app, api.api, api.ACCESS)
    access.register(app, delivery.bp, delivery.ACCESS)


@bp.get("/")
def library_page():
    status = request.args.get("status", "")
    if status not in {s.value for s in AssetStatus}:
        status = ""
    return render_template(
        "media/library.html",
        assets=library.list_assets(status or None),
        status=status,
        status_labels=ASSET_STATUS_LABELS,
        used=library.used_bytes(),
    )


@bp.get("/upload")
def upload_page():
    from media.uploads import chunk_limit

    return render_template("media/upload.html", chunk_size=chunk_limit())


@bp.get("/<int:asset_id>")
def asset_page(asset_id: int):
    asset = library.get_asset(asset_id)
    return render_template(
        "media/asset.html",
        asset=asset,
        job=jobs.job_state(asset.job),
        urls=library.asset_urls(asset),
        terminal=asset.status.value in TERMINAL,
    )


def _act(asset_id: int, action, done: str):
    asset = library.get_asset(asset_id)
    try:
        action(asset)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for("media_admin.asset_page", asset_id=asset_id))


@bp.post("/<int:asset_id>/retry")
def asset_retry(asset_id: int):
    return _act(asset_id, jobs.retry, "已重新排队转码。")


@bp.post("/<int:asset_id>/cancel")
def asset_cancel(asset_id: int):
    return _act(asset_id, jobs.cancel, "已取消转码。")


@bp.post("/<int:asset_id>/delete")
def asset_delete(asset_id: int):
    asset = library.get_asset(asset_id)
    title = asset.title
    library.delete_asset(asset)
    flash(f"已删除“{title}”及其全部文件。", "success")
    return redirect(url_for("media_admin.library_page"))
