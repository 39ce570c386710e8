"""Two-phase publish of the fast path: playable after the remux, every rung after the encode.

A 854x480 H.264/AAC clip: phase 1 copies it as the 480p rung (+ MP4, poster) and publishes;
phase 2 encodes 360p into a second version that replaces the first atomically. Each test
checks that every phase publishes exactly once and no half-written folder is left.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

import media.tasks
from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from media import jobs, library
from media.errors import MediaError
from media.models import AssetStatus, JobStatus, MediaAsset
from media.tasks import FIRST_PHASE_SHARE, run_job
from tests.media.media_helpers import asset_and_job, media_root
from tests.media.test_delivery import with_grant

pytestmark = pytest.mark.slow


@pytest.fixture
def source(make_video) -> Path:
    # ultrafast x264 + AAC at 480p: the fast path copies it; 360p is the one rung to encode
    return make_video("ready.mp4", width=854, height=480, seconds=3, fps=15, crf=35)


@pytest.fixture
def publishes(monkeypatch) -> SimpleNamespace:
    """Every call of jobs.publish, and hooks run right after one succeeded."""
    record = SimpleNamespace(calls=[], hooks=[])
    real = jobs.publish

    def spy(job_id, worker_id, asset_id, values, *, final=True, progress=100.0):
        ok = real(job_id, worker_id, asset_id, values, final=final, progress=progress)
        call = SimpleNamespace(
            final=final,
            ok=ok,
            output_dir=values["output_dir"],
            version=values["output_dir"].rsplit("/", 1)[-1],
            rungs=[r["name"] for r in values["renditions"]],
        )
        record.calls.append(call)
        for hook in list(record.hooks):
            hook(call)
        return ok

    monkeypatch.setattr(jobs, "publish", spy)
    return record


def queued_asset(app, path: Path) -> int:
    with app.app_context(), atomic():
        return library.import_file(SYSTEM, path, "两阶段").asset.id


def run(app, asset_id: int, **kw) -> JobStatus | None:
    with app.app_context():
        return run_job(asset_and_job(asset_id)[1].id, **kw)


def fetch(client, url: str, **kw):
    with client.get(with_grant(client.application, url), **kw) as response:
        response.get_data()
        return response


def variants(client, asset_id: int, version: str) -> list[str]:
    master = fetch(client, f"/media/{asset_id}/{version}/master.m3u8")
    assert master.status_code == 200, (version, master.status_code)
    return [line for line in master.get_data(as_text=True).splitlines() if line and not line.startswith("#")]


def folder_names(app, asset_id: int) -> list[str]:
    folder = media_root(app) / "assets" / str(asset_id)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fast_path_is_playable_after_the_remux_and_gets_every_rung_in_a_second_version(app, api, source, publishes):
    asset_id = queued_asset(app, source)
    during: dict = {}

    def after_first(call):
        if call.final:
            return
        state = api.client.get(f"/api/media/assets/{asset_id}").get_json()
        during.update(
            state=state,
            variants=variants(api.client, asset_id, call.version),
            mp4=fetch(api.client, f"/media/{asset_id}/{call.version}/video.mp4").status_code,
        )

    publishes.hooks.append(after_first)
    seen: list[float] = []
    assert run(app, asset_id, on_progress=lambda p, s: seen.append(p)) == JobStatus.done

    # Exactly one publish per phase: the copied rung first, then every rung.
    assert [(c.final, c.ok, c.rungs) for c in publishes.calls] == [
        (False, True, ["480p"]),
        (True, True, ["480p", "360p"]),
    ]
    first, second = publishes.calls
    # Between the phases the asset was ready and playable while the job kept running.
    state = during["state"]
    assert state["status"] == "ready" and first.version in state["urls"]["hls"]
    assert state["job"]["status"] == "running" and state["job"]["playable"] is True
    assert state["job"]["progress"] == FIRST_PHASE_SHARE
    assert during["variants"] == ["480p/index.m3u8"] and during["mp4"] == 200
    # Progress never went backwards across the phases.
    assert seen == sorted(seen) and seen[-1] == 100.0 and any(0 < p <= FIRST_PHASE_SHARE for p in seen)

    state = api.client.get(f"/api/media/assets/{asset_id}").get_json()
    assert state["status"] == "ready" and state["job"]["status"] == "done" and state["job"]["progress"] == 100
    assert second.version in state["urls"]["hls"]  # whoever asks now gets the richer version
    assert variants(api.client, asset_id, second.version) == ["480p/index.m3u8", "360p/index.m3u8"]
    # A player still on the first version keeps playing: same names, same bytes (hard links).
    assert variants(api.client, asset_id, first.version) == ["480p/index.m3u8"]
    root = media_root(app)
    old, new = root / first.output_dir, root / second.output_dir
    for name in ("480p/index.m3u8", "480p/seg_00000.ts", "video.mp4", "poster.jpg"):
        assert os.stat(old / name).st_ino == os.stat(new / name).st_ino, name
        assert fetch(api.client, f"/media/{asset_id}/{first.version}/{name}").status_code == 200
    assert folder_names(app, asset_id) == sorted([first.version, second.version])

    with app.app_context():
        asset = db.session.get(MediaAsset, asset_id)
        assert asset.previous_output_dir == first.output_dir and asset.fast_path
        assert jobs.sweep().expired == []  # still in its grace period
        later = utcnow() + timedelta(seconds=jobs.previous_version_grace() + 1)
        report = jobs.sweep(now=later)
        assert report.expired == [asset_id]
    assert folder_names(app, asset_id) == [second.version]
    assert fetch(api.client, f"/media/{asset_id}/{first.version}/master.m3u8").status_code == 404
    assert fetch(api.client, f"/media/{asset_id}/{second.version}/480p/seg_00000.ts").status_code == 200


def test_cancel_between_the_phases_keeps_the_first_version_and_retry_only_adds_the_rungs(app, api, source, publishes):
    asset_id = queued_asset(app, source)
    publishes.hooks.append(lambda call: call.final or api.client.post(f"/admin/media/{asset_id}/cancel"))
    assert run(app, asset_id) == JobStatus.cancelled
    [first] = publishes.calls  # the worker saw the cancel before starting phase 2
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert job.status == JobStatus.cancelled
        # Still playable: a cancel stops the work, it does not take the published version away.
        assert asset.status == AssetStatus.ready and asset.version == first.version
        assert [r["name"] for r in asset.renditions] == ["480p"]
    assert folder_names(app, asset_id) == [first.version]  # no half-published second version
    assert variants(api.client, asset_id, first.version) == ["480p/index.m3u8"]

    assert api.client.post(f"/admin/media/{asset_id}/retry").status_code == 302
    with app.app_context():
        assert asset_and_job(asset_id)[0].status == AssetStatus.ready  # a retry does not unpublish it
    assert run(app, asset_id) == JobStatus.done
    # Resumed at phase 2: phase 1 was published once in all.
    assert [(c.final, c.rungs) for c in publishes.calls] == [(False, ["480p"]), (True, ["480p", "360p"])]
    second = publishes.calls[1]
    assert folder_names(app, asset_id) == sorted([first.version, second.version])
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert job.status == JobStatus.done and asset.failure_reason is None
        assert asset.version == second.version and asset.previous_version == first.version


def test_delete_during_the_second_phase_leaves_no_folder(app, api, source, publishes):
    asset_id = queued_asset(app, source)
    deleted: list[int] = []

    def progress(percent, speed):
        if percent > FIRST_PHASE_SHARE and not deleted:
            deleted.append(api.client.post(f"/admin/media/{asset_id}/delete").status_code)

    assert run(app, asset_id, on_progress=progress) is None
    assert deleted == [302]
    assert [(c.final, c.ok) for c in publishes.calls] in ([(False, True)], [(False, True), (True, False)])
    assert not (media_root(app) / "assets" / str(asset_id)).exists()
    with app.app_context():
        assert db.session.get(MediaAsset, asset_id) is None


def test_second_phase_killed_is_retried_from_the_published_first_version(app, source, publishes, monkeypatch):
    asset_id = queued_asset(app, source)

    def killed(*args, **kwargs):
        raise MediaError(
            "ffmpeg_killed", "转码进程中断（ffmpeg 被系统强行结束（SIGKILL）），可能是服务器内存不足或被管理员结束"
        )

    real = media.tasks.second_phase
    monkeypatch.setattr("media.tasks.second_phase", killed)
    assert run(app, asset_id) == JobStatus.queued
    [first] = publishes.calls
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.status == AssetStatus.ready and asset.version == first.version  # still playing
        assert job.attempts == 1 and "已发布可播放的版本" in job.error and "已重新排队" in job.error
    assert folder_names(app, asset_id) == [first.version]

    monkeypatch.setattr("media.tasks.second_phase", real)  # (undo() would drop the spy too)
    assert run(app, asset_id) == JobStatus.done
    assert [(c.final, c.rungs) for c in publishes.calls] == [(False, ["480p"]), (True, ["480p", "360p"])]
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert job.attempts == 2 and job.error is None and len(asset.renditions) == 2


def test_second_phase_failure_leaves_the_asset_playable_with_the_reason(app, api, source, publishes, monkeypatch):
    asset_id = queued_asset(app, source)

    def broken(*args, **kwargs):
        raise MediaError("ffmpeg_failed", "转码失败（ffmpeg 退出码 1），请查看任务日志，或转换格式后重新上传", "x")

    monkeypatch.setattr("media.tasks.second_phase", broken)
    assert run(app, asset_id) == JobStatus.failed
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert job.status == JobStatus.failed and asset.status == AssetStatus.ready
        assert asset.failure_reason.startswith("已发布可播放的版本，但生成低清晰度版本失败")
        assert library.retryable(asset)
    assert len(variants(api.client, asset_id, publishes.calls[0].version)) == 1
    assert "已发布可播放的版本" in api.client.get(f"/admin/media/{asset_id}").get_data(as_text=True)


def test_published_folders_are_world_readable_whatever_the_umask(app, make_video):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))
    old = os.umask(0o077)
    try:
        assert run(app, asset_id) == JobStatus.done
    finally:
        os.umask(old)
    assets = media_root(app) / "assets"
    modes = {p.relative_to(assets).as_posix(): p.stat().st_mode & 0o777 for p in [assets, *assets.rglob("*")]}
    assert modes["."] == modes[str(asset_id)] == 0o755
    wrong = {name: oct(mode) for name, mode in modes.items() if mode != (0o755 if (assets / name).is_dir() else 0o644)}
    assert wrong == {} and len(modes) > 5
