"""Transcoding jobs: the row is the truth — claim, fail with a reason, cancel, retry, reap."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from media import jobs, library
from media.errors import MediaError
from media.models import AssetStatus, JobStatus, MediaAsset, TranscodeJob
from media.tasks import run_job
from tests.media.media_helpers import asset_and_job, media_root, write_text_as_mp4


def queued_asset(app, path: Path, title: str | None = None) -> int:
    with app.app_context(), atomic():
        return library.import_file(SYSTEM, path, title).asset.id


def job_id_of(app, asset_id: int) -> int:
    with app.app_context():
        return asset_and_job(asset_id)[1].id


def run(app, asset_id: int, **kw) -> JobStatus | None:
    with app.app_context():
        return run_job(job_id_of(app, asset_id), **kw)


def published(app, asset_id: int) -> list[Path]:
    folder = media_root(app) / "assets" / str(asset_id)
    return sorted(folder.rglob("*")) if folder.exists() else []


def test_job_runs_end_to_end_and_publishes_a_ready_asset(app, make_video):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=2), "党课")
    seen: list[float] = []
    assert run(app, asset_id, on_progress=lambda p, s: seen.append(p)) == JobStatus.done
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.status == AssetStatus.ready and asset.ready_at is not None
        assert job.status == JobStatus.done and job.progress == 100.0 and job.attempts == 1
        assert (asset.duration or 0) > 1.5 and (asset.width, asset.height) == (320, 180)
        assert asset.has_audio and asset.has_video and asset.fallback_name == "video.mp4"
        assert [r["name"] for r in asset.renditions] == ["180p"]
        out = media_root(app) / asset.output_dir
        for name in ("master.m3u8", "180p/index.m3u8", "video.mp4", "poster.jpg"):
            assert (out / name).stat().st_size > 0, name
        assert asset.output_bytes > 0
        # Nothing else is left in the asset folder: no partial or old versions.
        assert [p.name for p in out.parent.iterdir()] == [out.name]
    assert seen and seen[-1] == 100.0


def test_the_huey_task_runs_the_job_in_the_app_context(app, make_video):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))
    huey = app.extensions["huey"]
    task = huey.dequeue()
    assert task is not None and task.name == "media.transcode" and task.args == (job_id_of(app, asset_id),)
    huey.execute(task)
    with app.app_context():
        assert asset_and_job(asset_id)[0].status == AssetStatus.ready


def test_a_second_delivery_of_the_task_does_nothing(app, make_video):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))
    assert run(app, asset_id) == JobStatus.done
    with app.app_context():
        before = asset_and_job(asset_id)[0].output_dir
    assert run(app, asset_id) is None
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.output_dir == before and job.attempts == 1


def test_text_file_named_mp4_fails_with_a_chinese_reason_and_publishes_nothing(app, api, tmp_path):
    body = api.upload(write_text_as_mp4(tmp_path / "lesson.mp4"))
    asset_id = body["asset_id"]
    assert run(app, asset_id) == JobStatus.failed
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.status == AssetStatus.failed and asset.failure_code == "not_media"
        assert "不是视频或音频文件" in asset.failure_reason
        assert job.error == asset.failure_reason and asset.output_dir is None
    assert published(app, asset_id) == []
    page = api.client.get(f"/admin/media/{asset_id}").get_data(as_text=True)
    assert "不是视频或音频文件" in page
    assert api.client.get(f"/api/media/assets/{asset_id}").get_json()["urls"] is None


def test_cancel_of_a_queued_job_means_the_worker_never_runs_it(app, api, make_video):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))
    response = api.client.post(f"/admin/media/{asset_id}/cancel")
    assert response.status_code == 302
    assert "已取消转码" in api.client.get(response.headers["Location"]).get_data(as_text=True)
    assert run(app, asset_id) is None  # not claimable: the task finds nothing to do
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.status == AssetStatus.cancelled and job.attempts == 0
    assert published(app, asset_id) == []


def test_cancel_while_transcoding_stops_ffmpeg_and_publishes_nothing(app, api, make_video):
    asset_id = queued_asset(app, make_video("long.mp4", width=640, height=360, seconds=12))
    cancelled = []

    def progress(percent, speed):
        if not cancelled and percent > 0:
            cancelled.append(api.client.post(f"/admin/media/{asset_id}/cancel").status_code)

    assert run(app, asset_id, on_progress=progress) == JobStatus.cancelled
    assert cancelled == [302]
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.status == AssetStatus.cancelled and asset.output_dir is None
        assert job.status == JobStatus.cancelled and job.progress < 100
    assert published(app, asset_id) == []


def _ffmpeg_children() -> list[int]:
    import os

    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if "(ffmpeg)" in stat and int(stat[stat.rindex(")") + 2 :].split()[1]) == os.getpid():
            found.append(int(entry.name))
    return found


def _kill_ffmpeg_on_progress(sig: int, once: bool = True):
    import os

    killed: list[int] = []

    def progress(percent, speed):
        if percent > 0 and not (once and killed):
            for pid in _ffmpeg_children():
                os.kill(pid, sig)
                killed.append(pid)

    return progress, killed


def test_ffmpeg_killed_by_a_signal_is_retried_then_given_up_and_publishes_nothing(app, api, make_video):
    """The OOM killer or an admin's kill is not a bad file: re-queued (attempt counted), and only
    when attempts run out does the job fail — with a reason that does not claim a re-queue."""
    import signal

    app.config["JOB_MAX_ATTEMPTS"] = 2
    # MPEG-4 Part 2 is always re-encoded, so ffmpeg runs long enough to be killed.
    asset_id = queued_asset(app, make_video("long.mp4", width=640, height=360, seconds=12, vcodec="mpeg4"))
    progress, killed = _kill_ffmpeg_on_progress(signal.SIGKILL)
    assert run(app, asset_id, on_progress=progress) == JobStatus.queued
    assert killed
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.status == AssetStatus.queued and asset.failure_code is None and asset.output_dir is None
        assert job.attempts == 1 and job.progress == 0
        assert "被系统强行结束（SIGKILL）" in job.error and job.error.endswith("已重新排队")
    assert published(app, asset_id) == []
    assert app.extensions["huey"].pending_count() == 2  # the import and the re-queue

    progress, killed = _kill_ffmpeg_on_progress(signal.SIGKILL)
    assert run(app, asset_id, on_progress=progress) == JobStatus.failed
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.status == AssetStatus.failed and asset.failure_code == "gave_up" and job.attempts == 2
        assert "已尝试 2 次" in asset.failure_reason and "SIGKILL" in asset.failure_reason
        assert "已重新排队" not in asset.failure_reason
    assert published(app, asset_id) == []
    assert "被系统强行结束" in api.client.get(f"/admin/media/{asset_id}").get_data(as_text=True)


def test_ffmpeg_stopped_by_sigint_is_retried_not_failed_at_100_percent(app, make_video):
    """ffmpeg catches SIGINT/SIGTERM, says "progress=end" and exits 255: an interruption, not a verdict."""
    import signal

    asset_id = queued_asset(app, make_video("long.mp4", width=640, height=360, seconds=12, vcodec="mpeg4"))
    seen: list[float] = []
    progress, killed = _kill_ffmpeg_on_progress(signal.SIGINT)
    assert run(app, asset_id, on_progress=lambda p, s: (seen.append(p), progress(p, s))) == JobStatus.queued
    assert killed and max(seen) < 100
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert job.status == JobStatus.queued and job.attempts == 1 and job.progress == 0
        assert "收到停止信号" in job.error and asset.status == AssetStatus.queued
    assert published(app, asset_id) == []


def test_cancelled_job_can_be_retried_and_then_becomes_ready(app, api, make_video):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))
    api.client.post(f"/admin/media/{asset_id}/cancel")
    response = api.client.post(f"/admin/media/{asset_id}/retry")
    assert response.status_code == 302
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.status == AssetStatus.queued and job.status == JobStatus.queued and job.attempts == 0
    assert run(app, asset_id) == JobStatus.done


def test_retry_of_a_failed_job_runs_it_again_from_scratch(app, api, make_video, monkeypatch):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))

    def broken(*args, **kwargs):
        raise MediaError("ffmpeg_failed", "转码失败（ffmpeg 退出码 1），请查看任务日志，或转换格式后重新上传", "boom")

    monkeypatch.setattr("media.tasks.transcode", broken)
    assert run(app, asset_id) == JobStatus.failed
    monkeypatch.undo()
    assert api.client.post(f"/admin/media/{asset_id}/retry").status_code == 302
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert job.status == JobStatus.queued and job.error is None and asset.failure_reason is None
        assert job.attempts == 0
        assert app.extensions["huey"].pending_count() == 2  # the import and the retry
    assert run(app, asset_id) == JobStatus.done
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert job.attempts == 1 and asset.status == AssetStatus.ready


def test_only_failed_or_cancelled_jobs_can_be_retried_and_only_active_ones_cancelled(app, api, make_video):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))
    page = api.client.post(f"/admin/media/{asset_id}/retry", follow_redirects=True).get_data(as_text=True)
    assert "只有失败或已取消的任务可以重试" in page
    run(app, asset_id)
    page = api.client.post(f"/admin/media/{asset_id}/cancel", follow_redirects=True).get_data(as_text=True)
    assert "只有排队中或转码中的任务可以取消" in page


def _claim_and_age(app, asset_id: int, worker: str, seconds: float) -> int:
    """Claim the job as a worker that then died `seconds` ago (no heartbeat since)."""
    with app.app_context():
        job_id = job_id_of(app, asset_id)
        assert jobs.claim(job_id, worker) is not None
        db.session.execute(
            update(TranscodeJob)
            .where(TranscodeJob.id == job_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )
        db.session.commit()
        return job_id


def test_stale_heartbeat_is_requeued_and_fails_after_max_attempts(app, make_video):
    app.config.update(JOB_HEARTBEAT_TIMEOUT=30, JOB_MAX_ATTEMPTS=2)
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))
    huey = app.extensions["huey"]
    huey.flush()

    _claim_and_age(app, asset_id, "dead-worker-1", 31)
    with app.app_context():
        report = jobs.reap()
        asset, job = asset_and_job(asset_id)
        assert report.requeued == [job.id] and job.status == JobStatus.queued and job.worker_id is None
        assert asset.status == AssetStatus.queued and "没有响应" in job.error and "已重新排队" in job.error
        assert huey.pending_count() == 1

    job_id = _claim_and_age(app, asset_id, "dead-worker-2", 31)
    with app.app_context():
        assert asset_and_job(asset_id)[1].error is None  # a new claim clears the last attempt's error
        report = jobs.reap()
        asset, job = asset_and_job(asset_id)
        assert report.failed == [job_id] and job.status == JobStatus.failed and job.attempts == 2
        assert asset.status == AssetStatus.failed and asset.failure_code == "gave_up"
        assert "已尝试 2 次" in asset.failure_reason and "没有响应" in asset.failure_reason
        assert "已重新排队" not in asset.failure_reason and job.error == asset.failure_reason


def test_reaper_leaves_jobs_with_a_fresh_heartbeat_alone(app, make_video):
    app.config["JOB_HEARTBEAT_TIMEOUT"] = 30
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))
    _claim_and_age(app, asset_id, "busy-worker", 5)
    with app.app_context():
        assert jobs.reap().requeued == []
        assert asset_and_job(asset_id)[1].status == JobStatus.running


def test_a_worker_that_lost_its_claim_cannot_publish_or_report(app, make_video):
    app.config["JOB_HEARTBEAT_TIMEOUT"] = 30
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))
    job_id = _claim_and_age(app, asset_id, "slow-worker", 60)
    with app.app_context():
        jobs.reap()
        assert jobs.claim(job_id, "new-worker") is not None
        slow = jobs.Tracker(db.engine, job_id, "slow-worker")
        assert slow.heartbeat(50.0) is False and slow.should_cancel() is True
        assert jobs.publish(job_id, "slow-worker", asset_id, {"output_dir": "assets/x/y"}) is False
        assert jobs.fail(job_id, "slow-worker", asset_id, "x", "不应写入") is False
        asset, job = asset_and_job(asset_id)
        assert job.worker_id == "new-worker" and job.status == JobStatus.running
        assert asset.output_dir is None and asset.failure_reason is None


def test_queued_jobs_lost_by_the_queue_are_sent_again(app, make_video):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))
    huey = app.extensions["huey"]
    huey.flush()
    with app.app_context():
        db.session.execute(update(TranscodeJob).values(queued_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        assert jobs.reap(pending_tasks=1).resent == []  # the queue is busy: leave it alone
        report = jobs.reap(pending_tasks=0)
        assert report.resent == [job_id_of(app, asset_id)]
    assert huey.pending_count() == 1


def test_job_interrupted_by_an_unexpected_error_is_requeued(app, make_video, monkeypatch):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))

    def broken(*args, **kwargs):
        raise ConnectionResetError("the network file system went away")

    monkeypatch.setattr("media.tasks.transcode", broken)
    assert run(app, asset_id) == JobStatus.queued
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.status == AssetStatus.queued and "意外错误" in job.error and job.attempts == 1
    monkeypatch.undo()
    assert run(app, asset_id) == JobStatus.done


def test_deleting_a_ready_asset_removes_every_file(app, api, make_video):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1), "待删除")
    run(app, asset_id)
    with app.app_context():
        source = media_root(app) / asset_and_job(asset_id)[0].source_path
    assert source.exists() and published(app, asset_id)
    response = api.client.post(f"/admin/media/{asset_id}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/media/")
    assert not source.exists()
    assert not (media_root(app) / "assets" / str(asset_id)).exists()
    with app.app_context():
        assert db.session.get(MediaAsset, asset_id) is None
        assert db.session.scalar(db.select(db.func.count()).select_from(TranscodeJob)) == 0


def test_asset_page_shows_live_status_json(app, api, make_video):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1), "状态页")
    page = api.client.get(f"/admin/media/{asset_id}").get_data(as_text=True)
    assert "排队中" in page and "js/asset.js" in page and "取消转码" in page
    state = api.client.get(f"/api/media/assets/{asset_id}").get_json()
    assert state["status"] == "queued" and state["job"]["status"] == "queued" and state["urls"] is None
    run(app, asset_id)
    state = api.client.get(f"/api/media/assets/{asset_id}").get_json()
    assert state["status"] == "ready" and state["job"]["progress"] == 100.0
    assert state["urls"]["hls"].endswith("/master.m3u8")
    page = api.client.get(f"/admin/media/{asset_id}").get_data(as_text=True)
    assert 'id="player"' in page and "js/player.js" in page and "/static/vendor/hls.min.js" in page


def test_queue_is_redis_when_a_redis_url_is_configured(redis_url, tmp_path):
    from dangxiao import create_app
    from tests.conftest import base_config

    config = base_config(tmp_path, f"sqlite:///{tmp_path}/unused.db")
    config["REDIS_URL"] = redis_url
    app = create_app(config)
    huey = app.extensions["huey"]
    assert type(huey).__name__ == "RedisHuey"
    huey.flush()
    app.extensions["media.transcode_task"](42)
    assert huey.pending_count() == 1
    assert huey.dequeue().args == (42,)
    huey.storage.pool.disconnect()
