"""The asset page: what it offers after a failure, how it names qualities, which facts it keeps current."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from dangxiao.errors import DomainError
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.templating import localtime
from dangxiao.transactions import atomic
from media import jobs, library
from media.models import AssetStatus, JobStatus, MediaAsset, TranscodeJob
from media.tasks import run_job
from tests.media.media_helpers import asset_and_job, write_text_as_mp4


def imported(app, path, title: str | None = None) -> int:
    with app.app_context():
        with atomic():
            asset = library.import_file(SYSTEM, path, title).asset
        return asset.id


def run(app, asset_id: int) -> JobStatus | None:
    with app.app_context():
        return run_job(asset_and_job(asset_id)[1].id)


def fail_as(app, asset_id: int, code: str, reason: str = "转码失败") -> None:
    """Put the asset and its job in the state a worker leaves after failing with `code`."""
    with app.app_context():
        status = AssetStatus.cancelled if code == "cancelled" else AssetStatus.failed
        job_status = JobStatus.cancelled if code == "cancelled" else JobStatus.failed
        db.session.execute(
            update(MediaAsset)
            .where(MediaAsset.id == asset_id)
            .values(status=status, failure_code=code, failure_reason=reason)
        )
        db.session.execute(
            update(TranscodeJob).where(TranscodeJob.asset_id == asset_id).values(status=job_status, error=reason)
        )
        db.session.commit()


def page_of(api, asset_id: int) -> str:
    response = api.client.get(f"/admin/media/{asset_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_file_that_is_not_media_offers_no_retry_and_retry_is_refused(app, api, tmp_path):
    asset_id = imported(app, write_text_as_mp4(tmp_path / "notes.mp4"))
    assert run(app, asset_id) == JobStatus.failed
    page = page_of(api, asset_id)
    assert "不是视频或音频文件" in page
    assert f"/admin/media/{asset_id}/retry" not in page and "重新转码" not in page
    assert 'data-testid="asset-permanent"' in page and "删除后上传" in page

    pending = app.extensions["huey"].pending_count()
    page = api.client.post(f"/admin/media/{asset_id}/retry", follow_redirects=True).get_data(as_text=True)
    assert "再次转码也不会成功" in page
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert job.status == JobStatus.failed and asset.failure_code == "not_media"
    assert app.extensions["huey"].pending_count() == pending
    assert api.client.get(f"/api/media/assets/{asset_id}").get_json()["retryable"] is False


@pytest.mark.parametrize("code", sorted(jobs.PERMANENT_FAILURES))
def test_permanent_failures_are_not_retryable(app, api, tmp_path, code):
    asset_id = imported(app, write_text_as_mp4(tmp_path / "a.mp4"))
    fail_as(app, asset_id, code, "文件里既没有视频也没有音频，无法播放")
    page = page_of(api, asset_id)
    assert f"/admin/media/{asset_id}/retry" not in page
    with app.app_context(), pytest.raises(DomainError) as refused:
        jobs.retry(SYSTEM, db.session.get(MediaAsset, asset_id))
    assert refused.value.code == "permanent_failure" and "无法转码" in refused.value.message


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("gave_up", "转码多次中断（已尝试 3 次）"),
        ("ffmpeg_failed", "转码失败（ffmpeg 被系统强行结束）"),
        ("ffmpeg_failed", "转码失败：磁盘空间不足"),
        ("ffmpeg_missing", "服务器未安装 ffmpeg，请联系管理员"),
        ("cancelled", "转码已取消"),
    ],
)
def test_transient_failures_still_offer_retry(app, api, tmp_path, code, reason):
    asset_id = imported(app, write_text_as_mp4(tmp_path / "a.mp4"))
    fail_as(app, asset_id, code, reason)
    page = page_of(api, asset_id)
    assert f"/admin/media/{asset_id}/retry" in page and "重新转码" in page
    assert 'data-testid="asset-permanent"' not in page
    assert api.client.post(f"/admin/media/{asset_id}/retry").status_code == 302
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert job.status == JobStatus.queued and asset.status == AssetStatus.queued
        assert asset.failure_code is None


def test_failure_reason_row_only_when_there_is_a_reason(app, api, tmp_path):
    asset_id = imported(app, write_text_as_mp4(tmp_path / "a.mp4"))
    page = page_of(api, asset_id)
    assert 'id="asset-failure-row" hidden' in page and 'class="error-text"></dd>' in page
    fail_as(app, asset_id, "gave_up", "转码多次中断")
    page = page_of(api, asset_id)
    assert 'id="asset-failure-row">' in page
    assert re.search(r'id="asset-failure" class="error-text">转码多次中断<', page)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("1080p", "超清 1080p"),
        ("720p", "高清 720p"),
        ("480p", "标清 480p"),
        ("360p", "流畅 360p"),
        ("180p", "流畅 180p"),
        ("audio", "音频"),
        ("odd", "odd"),
    ],
)
def test_rendition_labels_are_chinese(name, label):
    assert library.rendition_label({"name": name, "width": 0, "height": 0}) == label


def test_audio_asset_reads_audio_in_chinese_and_plays(app, api, make_video):
    asset_id = imported(app, make_video("讲座.m4a", seconds=1, video=False), "讲座录音")
    assert run(app, asset_id) == JobStatus.done
    page = page_of(api, asset_id)
    tags = re.findall(r'<span class="tag">([^<]+)</span>', page)
    assert tags == ["音频"]
    assert ">audio<" not in page and "仅音频" in page
    assert 'id="asset-failure-row" hidden' in page  # played: no 失败原因 at all
    state = api.client.get(f"/api/media/assets/{asset_id}").get_json()
    assert [r["label"] for r in state["renditions"]] == ["音频"]


def test_status_json_carries_the_facts_the_page_updates_without_reload(app, api, make_video):
    source = make_video("第一课.mp4", seconds=2)
    asset_id = imported(app, source, "第一课")
    before = api.client.get(f"/api/media/assets/{asset_id}").get_json()
    assert before["duration_text"] == "—" and before["picture_text"] == "—"
    assert before["output_size_text"] is None and before["renditions"] == []
    assert before["size"] == source.stat().st_size and before["size_text"].endswith("KB")
    page = page_of(api, asset_id)
    for element in ("asset-duration", "asset-size", "asset-picture", "asset-output", "asset-renditions"):
        assert f'id="{element}"' in page

    assert run(app, asset_id) == JobStatus.done
    after = api.client.get(f"/api/media/assets/{asset_id}").get_json()
    assert after["settled"] is True and after["status_label"] == "可播放"
    assert after["duration_text"] == "0:02" and after["picture_text"] == "320×180"
    assert after["output_bytes"] > 0 and after["output_size_text"].endswith("KB")
    assert [r["label"] for r in after["renditions"]] == ["流畅 180p"]
    page = page_of(api, asset_id)
    assert 'data-testid="asset-duration">0:02<' in page and "流畅 180p 320×180" in page
    assert 'id="asset-failure-row" hidden' in page


def test_asset_page_uses_the_shared_filters(app, api, tmp_path):
    asset_id = imported(app, write_text_as_mp4(tmp_path / "a.mp4"))
    with app.app_context():
        created = db.session.get(MediaAsset, asset_id).created_at
        with app.test_request_context():
            expected = localtime(created)
    page = page_of(api, asset_id)
    assert f"<dd>{expected}</dd>" in page  # 上传时间 in Asia/Shanghai
    library_page = api.client.get("/admin/media/").get_data(as_text=True)
    assert expected in library_page
