"""Fault injection: a full disk, a shutdown mid-transcode, a worker that dies, leftovers.

Each test breaks something for real (ffmpeg writing to /dev/full, a process killed -9,
folders a killed worker left behind) and checks that the job ends in a state an admin can
act on, with at most one publish and no half-written folder.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

import media.transcode as transcode_module
from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from media import jobs, library, storage, tasks
from media.models import AssetStatus, JobStatus, MediaAsset, TranscodeJob
from media.probe import child_options
from media.tasks import run_job
from tests.media.media_helpers import asset_and_job, media_root, write_text_as_mp4

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600


def queued_asset(app, path: Path) -> int:
    with app.app_context(), atomic():
        return library.import_file(SYSTEM, path, None).asset.id


def run(app, asset_id: int, **kw) -> JobStatus | None:
    with app.app_context():
        return run_job(asset_and_job(asset_id)[1].id, **kw)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def ffmpeg_children() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if "(ffmpeg)" in stat and int(stat[stat.rindex(")") + 2 :].split()[1]) == os.getpid():
            found.append(int(entry.name))
    return [pid for pid in found if alive(pid)]


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- ffmpeg's own process: a session of its own, and it dies with the thread that started it --

CHILD_OF_A_THREAD = """
import subprocess, threading, time
from media.probe import child_options
def start():
    child = subprocess.Popen(["sleep", "60"], **child_options())
    print(child.pid, flush=True)
    child.wait()
threading.Thread(target=start, daemon=True).start()
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_a_child_started_from_a_worker_thread_dies_when_its_process_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", CHILD_OF_A_THREAD], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        # Its own session: the terminal's Ctrl-C (SIGINT to the foreground group) never reaches it.
        assert os.getsid(child) == child != os.getsid(parent.pid)
        parent.kill()
        parent.wait(timeout=10)
        wait_until(lambda: not alive(child), 5, "the child to die with its parent")
    finally:
        parent.kill()
        parent.wait(timeout=10)
        parent.stdout.close()


def test_child_options_ask_for_a_new_session_and_a_parent_death_signal():
    options = child_options()
    assert options["start_new_session"] is True
    if sys.platform.startswith("linux"):
        assert callable(options["preexec_fn"])


# --- a full disk ---------------------------------------------------------------------------


def test_full_disk_fails_with_a_disk_space_reason_that_can_be_retried(app, make_video, monkeypatch):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1, vcodec="mpeg4"))
    real = transcode_module.build_args

    def mp4_to_dev_full(src, tmp_dir, plan, **kw):  # the MP4 fallback hits "No space left on device"
        target = str(Path(tmp_dir).resolve() / "video.mp4")
        return [arg.replace(target, "/dev/full") for arg in real(src, tmp_dir, plan, **kw)]

    monkeypatch.setattr(transcode_module, "build_args", mp4_to_dev_full)
    assert run(app, asset_id) == JobStatus.failed
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.failure_code == "disk_full" and "磁盘空间不足" in asset.failure_reason
        assert "退出码" not in asset.failure_reason and "No space left on device" in job.error_detail
        assert library.retryable(asset)  # free some space, then 重新转码
    with app.app_context():
        assert storage.clear_asset_dir(asset_id) == []  # nothing half-written was left


def test_full_disk_while_moving_files_into_place_is_reported_the_same_way(app, make_video, monkeypatch):
    asset_id = queued_asset(app, make_video("a.mp4", seconds=1))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("media.tasks.transcode", full)
    assert run(app, asset_id) == JobStatus.failed
    with app.app_context():
        asset, job = asset_and_job(asset_id)
        assert asset.failure_code == "disk_full" and "磁盘空间不足" in asset.failure_reason and job.attempts == 1


# --- shutdown mid-transcode ------------------------------------------------------------------


def test_shutdown_hands_the_job_back_at_once_without_counting_the_attempt(app, make_video):
    asset_id = queued_asset(app, make_video("long.mp4", width=640, height=360, seconds=20, vcodec="mpeg4"))
    huey = app.extensions["huey"]
    started: list[float] = []

    def progress(percent, speed):
        if percent > 0 and not started:
            started.append(time.monotonic())
            tasks.request_shutdown()  # what the worker's SIGINT/SIGTERM handler does

    try:
        assert run(app, asset_id, on_progress=progress) == JobStatus.queued
        stopped_after = time.monotonic() - started[0]
        assert ffmpeg_children() == []
        with app.app_context():
            asset, job = asset_and_job(asset_id)
            assert job.attempts == 0 and job.error == jobs.SHUTDOWN_REASON and job.worker_id is None
            assert asset.status == AssetStatus.queued and asset.output_dir is None
        assert stopped_after < 3, stopped_after
        with app.app_context():
            assert storage.clear_asset_dir(asset_id) == []  # no partial folder left
        assert huey.pending_count() == 2  # the import and the hand-back

        # Deliveries dequeued while the worker stops go back to the queue untouched.
        huey.execute(huey.dequeue())
        assert huey.pending_count() == 2
        with app.app_context():
            assert asset_and_job(asset_id)[1].status == JobStatus.queued
    finally:
        tasks.reset_shutdown()
    with app.app_context():  # the next worker claims it as its first attempt
        job = jobs.claim(asset_and_job(asset_id)[1].id, "next-worker")
        assert job is not None and job.attempts == 1 and job.error is None


# --- leftovers: given-up jobs and the sweep ----------------------------------------------------


def _make_tree(folder: Path, age: float = HOUR) -> Path:
    (folder / "360p").mkdir(parents=True)
    (folder / "360p" / "seg_00000.ts").write_bytes(b"\x47" * 188)
    (folder / "master.m3u8").write_text("#EXTM3U\n")
    then = time.time() - age
    for path in (folder / "360p" / "seg_00000.ts", folder / "360p", folder / "master.m3u8", folder):
        os.utime(path, (then, then))
    return folder


def test_reaper_removes_what_a_given_up_job_was_writing(app, tmp_path):
    app.config.update(JOB_HEARTBEAT_TIMEOUT=30, JOB_MAX_ATTEMPTS=1)
    asset_id = queued_asset(app, write_text_as_mp4(tmp_path / "a.mp4"))
    with app.app_context():
        job_id = asset_and_job(asset_id)[1].id
        assert jobs.claim(job_id, "dead-worker") is not None
        db.session.execute(
            update(TranscodeJob).where(TranscodeJob.id == job_id).values(heartbeat_at=utcnow() - timedelta(seconds=31))
        )
        db.session.commit()
        folder = storage.prepare_asset_dir(asset_id)
    for name in (".v1234abcd.partial-x9y8", ".v1234abcd.old-77-123", "v1234abcd"):
        _make_tree(folder / name, age=0)  # fresh: the given-up job's files go at once anyway
    with app.app_context():
        report = jobs.reap()
        assert report.failed == [job_id] and report.cleaned == [asset_id]
    assert not folder.exists()


def test_sweep_removes_leftovers_and_expired_versions_but_nothing_in_use(app, tmp_path):
    sources = [tmp_path / f"{n}.mp4" for n in range(2)]
    for n, path in enumerate(sources):
        path.write_text(f"第 {n} 个文件，不是视频\n" * 50, encoding="utf-8")
    ready, busy = [queued_asset(app, path) for path in sources]
    assert ready != busy
    root = media_root(app)
    with app.app_context():
        now = utcnow()
        db.session.execute(
            update(MediaAsset)
            .where(MediaAsset.id == ready)
            .values(
                status=AssetStatus.ready,
                output_dir=f"assets/{ready}/vcurrent0",
                previous_output_dir=f"assets/{ready}/vprevio0",
                previous_until=now + timedelta(hours=1),
            )
        )
        db.session.execute(update(TranscodeJob).where(TranscodeJob.asset_id == ready).values(status=JobStatus.done))
        db.session.execute(
            update(TranscodeJob).where(TranscodeJob.asset_id == busy).values(status=JobStatus.running, worker_id="w")
        )
        db.session.commit()
    base = root / "assets" / str(ready)
    for name in ("vcurrent0", "vprevio0", "vjunk0000", ".vjunk0000.partial-abc", ".vx.old-1-2"):
        _make_tree(base / name)
    _make_tree(base / ".vfresh00.partial-def", age=0)
    _make_tree(root / "assets" / str(busy) / ".vdead000.partial-ghi")
    _make_tree(root / "assets" / "99999" / "vgone0000")

    with app.app_context():
        report = jobs.sweep(min_age=60)
    assert sorted(report.removed) == sorted(
        [
            f"assets/{ready}/vjunk0000",
            f"assets/{ready}/.vjunk0000.partial-abc",
            f"assets/{ready}/.vx.old-1-2",
            "assets/99999/vgone0000",
        ]
    )
    assert sorted(p.name for p in base.iterdir()) == [".vfresh00.partial-def", "vcurrent0", "vprevio0"]
    assert (root / "assets" / str(busy) / ".vdead000.partial-ghi").exists()  # its job is running
    assert not (root / "assets" / "99999").exists()

    with app.app_context():
        report = jobs.sweep(now=utcnow() + timedelta(hours=2), min_age=60)
        assert report.expired == [ready]
        asset = db.session.get(MediaAsset, ready)
        assert asset.previous_output_dir is None and asset.output_dir == f"assets/{ready}/vcurrent0"
    assert sorted(p.name for p in base.iterdir()) == ["vcurrent0"]
