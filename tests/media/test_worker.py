"""The real worker: `flask --app wsgi media worker` as a process, killed with -9 mid-transcode.

Runs on SQLite only (the default deployment; the job SQL is covered on both backends in
test_jobs.py) because it transcodes a 720p source one and a half times.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from media import library
from media.models import AssetStatus, JobStatus
from tests.media.conftest import ffprobe
from tests.media.media_helpers import asset_and_job, media_root

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
SECONDS = 16


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    return request.param


def wait_for(check: Callable[[], object], timeout: float, what: str, workers=()) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        for worker in workers:
            assert worker.poll() is None, f"worker exited early ({worker.returncode}) while waiting for {what}"
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def process_group(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


class Worker:
    def __init__(self, env: dict[str, str], log: Path):
        self.log = log
        self.handle = log.open("wb")
        self.proc = subprocess.Popen([FLASK, "--app", "wsgi", "media", "worker"], cwd=ROOT, env=env,
                                     stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True)

    def poll(self):
        return self.proc.poll()

    @property
    def returncode(self):
        return self.proc.returncode

    def kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.handle.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill_group()
        self.handle.close()


@pytest.fixture
def worker_env(app, app_config) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGXIAO_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update({
        "DANGXIAO_INSTANCE_PATH": app.instance_path,
        "DANGXIAO_DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
        "DANGXIAO_SECRET_KEY": "worker-test",
        "DANGXIAO_JOB_HEARTBEAT_TIMEOUT": "3",
        "DANGXIAO_JOB_PROGRESS_INTERVAL": "0.5",
        "DANGXIAO_JOB_REAPER_INTERVAL": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def test_worker_killed_mid_transcode_is_replaced_and_the_output_is_complete(app, make_video, worker_env, tmp_path):
    # MPEG-4 Part 2 is never remuxed, so the whole 720/480/360 ladder is encoded (slow enough to interrupt).
    source = make_video("long.mp4", width=1280, height=720, seconds=SECONDS, vcodec="mpeg4",
                        extra=("-q:v", "8"))
    with app.app_context():
        asset = library.import_file(source, "长视频").asset
        asset_id, job_id = asset.id, asset.job.id

    def job():
        with app.app_context():
            return asset_and_job(asset_id)[1]

    first = Worker(worker_env, tmp_path / "worker-1.log")
    second = None
    try:
        running = wait_for(lambda: (j := job()).status == JobStatus.running and j.progress > 0 and j,
                           90, "the first worker to report progress", [first])
        assert running.attempts == 1 and running.progress < 100
        first.kill_group()
        assert process_group(first.proc.pid) == [], "ffmpeg survived the worker's kill -9"
        stale = job()
        assert stale.status == JobStatus.running and stale.progress < 100  # nobody told the database

        second = Worker(worker_env, tmp_path / "worker-2.log")
        wait_for(lambda: job().status in (JobStatus.done, JobStatus.failed), 120,
                 "the second worker to finish the job", [second])
    except BaseException:
        for w in (first, second):
            if w is not None:
                print(f"--- {w.log.name}\n" + w.log.read_text(errors="replace")[-4000:])
        raise
    finally:
        for w in (first, second):
            if w is not None and w.poll() is None:
                w.stop()

    with app.app_context():
        asset, done = asset_and_job(asset_id)
        assert done.status == JobStatus.done, done.error
        assert asset.status == AssetStatus.ready and done.attempts == 2 and done.id == job_id
        output = media_root(app) / asset.output_dir
        assert sorted(r["name"] for r in asset.renditions) == ["360p", "480p", "720p"]

    assert_complete_ladder(output)
    assert abs(float(ffprobe(output / "video.mp4")["format"]["duration"]) - SECONDS) < 1
    # No partial folders from the killed attempt, nothing half-written anywhere.
    assert [p.name for p in output.parent.iterdir()] == [output.name]
    assert list(media_root(app).rglob(".*")) == []
    assert "requeued" in (tmp_path / "worker-2.log").read_text()


def assert_complete_ladder(output: Path) -> None:
    master = (output / "master.m3u8").read_text()
    variants = [line for line in master.splitlines() if line and not line.startswith("#")]
    assert len(variants) == 3
    for variant in variants:
        playlist = output / variant
        text = playlist.read_text()
        assert text.rstrip().endswith("#EXT-X-ENDLIST")
        segments = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert len(segments) >= SECONDS // 4  # ~4 s segments
        for segment in segments:
            assert (playlist.parent / segment).stat().st_size > 0, segment
        durations = [float(line[8:].split(",")[0]) for line in text.splitlines() if line.startswith("#EXTINF:")]
        assert abs(sum(durations) - SECONDS) < 1
    assert (output / "poster.jpg").stat().st_size > 0
