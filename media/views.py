"""Admin pages of the media library: list, upload, asset status and player, actions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dangxiao.access import role
from dangxiao.errors import DomainError, Forbidden
from dangxiao.transactions import atomic
from media import grants, jobs, library, uploads
from media.api import UNFINISHED_LABEL, actor, asset_state
from media.models import AssetStatus

bp = Blueprint("media_admin", __name__, url_prefix="/admin/media")
ACCESS = {
    view: role("admin")
    for view in ("library_page", "upload_page", "asset_page", "asset_retry", "asset_cancel", "asset_delete")
}


def register_blueprints(app: Flask) -> None:
    """Called by dangxiao.create_app: the policy rules, admin pages, the JSON API and file delivery."""
    from dangxiao import access
    from media import api, delivery
    from media import policy as media_policy  # noqa: F401 — registers "media.*" rules

    access.register(app, bp, ACCESS)
    access.register(app, api.api, api.ACCESS)
    access.register(app, delivery.bp, delivery.ACCESS)
    access.grant_verifier(app, verify_grant)


def verify_grant(view_args: Mapping[str, Any]) -> bool | str:
    """The access table's `grant` check for delivery: signature and expiry only, no database."""
    token, asset_id = view_args.get("grant"), view_args.get("asset_id")
    if not isinstance(token, str) or not isinstance(asset_id, int):
        return grants.INVALID
    result = grants.check(token, asset_id)
    return True if isinstance(result, grants.Grant) else result


def _unfinished_labels(assets) -> dict[int, str]:
    """Uploading assets whose browser stopped sending: "上传未完成 · 已收到 40%"."""
    labels = {}
    for asset in assets:
        if asset.status != AssetStatus.uploading:
            continue
        upload = uploads.unfinished_upload(asset.id)
        state = uploads.progress_state(upload) if upload is not None else None
        if state is None or state["stalled"]:
            labels[asset.id] = UNFINISHED_LABEL + (f" · 已收到 {state['percent']}%" if state else "")
    return labels


@bp.get("/")
def library_page():
    status = request.args.get("status", "")
    if status not in {s.value for s in AssetStatus}:
        status = ""
    assets = library.list_assets(status or None)
    return render_template(
        "media/library.html",
        assets=assets,
        unfinished=_unfinished_labels(assets),
        status=status,
        status_choices=AssetStatus.choices(),
        used=library.used_bytes(),
    )


@bp.get("/upload")
def upload_page():
    return render_template(
        "media/upload.html",
        chunk_size=uploads.chunk_limit(),
        max_bytes=int(current_app.config["MEDIA_MAX_UPLOAD_BYTES"] or 0),
        extensions=uploads.accepted_extensions(),
        expiry_hours=uploads.expiry_hours(),
    )


@bp.get("/<int:asset_id>")
def asset_page(asset_id: int):
    asset = library.get_asset(asset_id)
    return render_template(
        "media/asset.html",
        asset=asset,
        state=asset_state(asset, grants.staff(current_user.id)),  # the preview player's own grant
        permanent_failures=jobs.PERMANENT_FAILURES,
        grant_ttl=grants.ttl(),
    )


def _act(asset_id: int, action: Callable[[Any, Any], None], done: str):
    asset = library.get_asset(asset_id)
    try:
        with atomic():
            action(actor(), asset)
    except Forbidden:
        raise
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
    with atomic():
        library.delete_asset(actor(), asset)
    flash(f"已删除“{title}”及其全部文件。", "success")
    return redirect(url_for("media_admin.library_page"))
