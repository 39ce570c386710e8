"""The real worker: `flask --app wsgi media worker` as a process, killed with -9 or stopped
with SIGINT/SIGTERM mid-transcode.

Runs on SQLite only (the default deployment; the job SQL is covered on both backends in
test_jobs.py and test_two_phase.py) because it starts worker processes and real transcodes.
With the short timeouts below a killed job is finished by another worker within ~5 s; with
the defaults (JOB_HEARTBEAT_TIMEOUT=120, reaper every 30 s) that takes up to ~150 s.
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

from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from media import jobs, library
from media.models import AssetStatus, JobStatus
from media.tasks import FIRST_PHASE_SHARE
from tests.media.conftest import ffprobe
from tests.media.media_helpers import asset_and_job, media_root

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
SECONDS = 12


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


def ffmpeg_writing_to(root: Path) -> list[int]:
    """Live (non-zombie) ffmpeg processes whose command line mentions ``root``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if argv and argv[0].endswith(b"ffmpeg") and str(root).encode() in b" ".join(argv) and state != "Z":
            found.append(int(entry.name))
    return found


def gone(check: Callable[[], list[int]], timeout: float = 5.0) -> list[int]:
    """What ``check`` still finds after waiting up to ``timeout`` for it to find nothing."""
    deadline = time.monotonic() + timeout
    while (found := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


class Worker:
    def __init__(self, env: dict[str, str], log: Path):
        self.log = log
        self.handle = log.open("wb")
        self.proc = subprocess.Popen(
            [FLASK, "--app", "wsgi", "media", "worker"],
            cwd=ROOT,
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

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

    def kill_9(self) -> None:
        """SIGKILL to the worker process alone: only the parent-death signal can stop its ffmpeg."""
        self.proc.kill()
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
    env.update(
        {
            "DANGXIAO_INSTANCE_PATH": app.instance_path,
            "DANGXIAO_DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
            "DANGXIAO_SECRET_KEY": "worker-test",
            "DANGXIAO_JOB_HEARTBEAT_TIMEOUT": "3",
            "DANGXIAO_JOB_PROGRESS_INTERVAL": "0.5",
            "DANGXIAO_JOB_REAPER_INTERVAL": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def import_asset(app, source: Path, title: str) -> tuple[int, int]:
    with app.app_context(), atomic():
        asset = library.import_file(SYSTEM, source, title).asset
        return asset.id, asset.job.id


def dump_logs(*workers) -> None:
    for w in workers:
        if w is not None:
            w.handle.close()
            print(f"--- {w.log.name}\n" + w.log.read_text(errors="replace")[-4000:])


def stop_all(*workers) -> None:
    for w in workers:
        if w is not None:
            w.stop()  # (closes the log of a worker that already exited too)


def test_worker_killed_mid_transcode_is_replaced_and_the_output_is_complete(app, make_video, worker_env, tmp_path):
    # MPEG-4 Part 2 is never remuxed, so the whole 480/360 ladder is encoded (slow enough to interrupt).
    source = make_video("long.mp4", width=854, height=480, seconds=SECONDS, vcodec="mpeg4", extra=("-q:v", "8"))
    asset_id, job_id = import_asset(app, source, "长视频")
    root = media_root(app)

    def job():
        with app.app_context():
            return asset_and_job(asset_id)[1]

    first = Worker(worker_env, tmp_path / "worker-1.log")
    second = None
    try:
        running = wait_for(
            lambda: (j := job()).status == JobStatus.running and j.progress > 0 and j,
            90,
            "the first worker to report progress",
            [first],
        )
        assert running.attempts == 1 and running.progress < 100
        assert ffmpeg_writing_to(root)
        first.kill_9()
        assert gone(lambda: ffmpeg_writing_to(root)) == [], "ffmpeg survived the worker's kill -9"
        stale = job()
        assert stale.status == JobStatus.running and stale.progress < 100  # nobody told the database

        second = Worker(worker_env, tmp_path / "worker-2.log")
        wait_for(
            lambda: job().status in (JobStatus.done, JobStatus.failed),
            120,
            "the second worker to finish the job",
            [second],
        )
    except BaseException:
        dump_logs(first, second)
        raise
    finally:
        stop_all(first, second)

    with app.app_context():
        asset, done = asset_and_job(asset_id)
        assert done.status == JobStatus.done, done.error
        assert asset.status == AssetStatus.ready and done.attempts == 2 and done.id == job_id
        output = media_root(app) / asset.output_dir
        assert sorted(r["name"] for r in asset.renditions) == ["360p", "480p"]

    assert_complete_ladder(output, variants=2)
    assert abs(float(ffprobe(output / "video.mp4")["format"]["duration"]) - SECONDS) < 1
    # No partial folders from the killed attempt, nothing half-written anywhere.
    assert [p.name for p in output.parent.iterdir()] == [output.name]
    assert list(media_root(app).rglob(".*")) == []
    assert "requeued" in (tmp_path / "worker-2.log").read_text()


def test_worker_killed_during_phase_two_keeps_the_asset_playable_and_publishes_each_phase_once(
    app, make_video, worker_env, tmp_path
):
    seconds = 30
    source = make_video("ready.mp4", width=854, height=480, seconds=seconds, crf=35)
    asset_id, _ = import_asset(app, source, "快速通道")
    root = media_root(app)

    def state():
        with app.app_context():
            return asset_and_job(asset_id)

    first = Worker(worker_env, tmp_path / "worker-1.log")
    second = None
    try:
        asset, job = wait_for(
            lambda: (s := state())[0].status == AssetStatus.ready and s[1].progress > FIRST_PHASE_SHARE and s,
            90,
            "phase 2 to report progress",
            [first],
        )
        assert job.status == JobStatus.running and [r["name"] for r in asset.renditions] == ["480p"]
        first_version = asset.output_dir
        first.kill_9()
        assert gone(lambda: ffmpeg_writing_to(root)) == [], "ffmpeg survived the worker's kill -9"
        asset, job = state()
        assert asset.status == AssetStatus.ready and asset.output_dir == first_version  # still playing

        second = Worker(worker_env, tmp_path / "worker-2.log")
        wait_for(
            lambda: state()[1].status in (JobStatus.done, JobStatus.failed),
            120,
            "the second worker to finish phase 2",
            [second],
        )
    except BaseException:
        dump_logs(first, second)
        raise
    finally:
        stop_all(first, second)

    asset, job = state()
    assert job.status == JobStatus.done and job.attempts == 2, job.error
    assert [r["name"] for r in asset.renditions] == ["480p", "360p"]
    assert asset.previous_output_dir == first_version
    logs = (tmp_path / "worker-1.log").read_text() + (tmp_path / "worker-2.log").read_text()
    assert logs.count("(phase 1: copied rung, playable)") == 1
    assert logs.count("(phase 2: every rung)") == 1 and "resuming at phase 2" in logs
    folder = root / "assets" / str(asset_id)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [first_version.rsplit("/", 1)[1], asset.output_dir.rsplit("/", 1)[1]]
    )
    assert list(root.rglob(".*")) == []
    output = root / asset.output_dir
    assert_complete_ladder(output, variants=2, seconds=seconds, min_segments=1)


@pytest.mark.parametrize(
    "sig, target",
    [(signal.SIGINT, "group"), (signal.SIGINT, "worker"), (signal.SIGTERM, "worker")],
    ids=["ctrl-c", "sigint", "sigterm"],
)
def test_sigint_or_sigterm_hands_the_job_back_at_once(app, make_video, worker_env, tmp_path, sig, target):
    """Ctrl-C in the terminal (SIGINT to the whole process group), systemd's KillSignal=SIGINT
    (the worker alone) and a plain SIGTERM: ffmpeg is stopped, the job re-queued, the attempt
    not counted, and the worker exits without waiting for the transcode."""
    source = make_video("long.mp4", width=640, height=360, seconds=40, vcodec="mpeg4", extra=("-q:v", "8"))
    asset_id, _ = import_asset(app, source, "长视频")
    root = media_root(app)

    def job():
        with app.app_context():
            return asset_and_job(asset_id)[1]

    worker = Worker(worker_env, tmp_path / "worker.log")
    try:
        wait_for(
            lambda: (j := job()).status == JobStatus.running and j.progress > 0,
            90,
            "the worker to report progress",
            [worker],
        )
        assert ffmpeg_writing_to(root)
        signalled = time.monotonic()
        if target == "group":
            os.killpg(worker.proc.pid, sig)
        else:
            worker.proc.send_signal(sig)
        worker.proc.wait(timeout=20)
        took = time.monotonic() - signalled
    except BaseException:
        dump_logs(worker)
        raise
    finally:
        stop_all(worker)
    log = (tmp_path / "worker.log").read_text()
    assert took < 10, log[-3000:]
    assert gone(lambda: ffmpeg_writing_to(root), 2) == []
    done = job()
    assert done.status == JobStatus.queued and done.attempts == 0 and done.error == jobs.SHUTDOWN_REASON, log
    assert done.progress == 0 and done.worker_id is None
    assert "handed back" in log
    assert list(root.rglob(".*")) == [] and not (root / "assets" / str(asset_id)).exists()
    with app.app_context():
        assert app.extensions["huey"].pending_count() >= 1  # waiting for the next worker


def assert_complete_ladder(
    output: Path, variants: int, seconds: float = SECONDS, min_segments: int | None = None
) -> None:
    master = (output / "master.m3u8").read_text()
    listed = [line for line in master.splitlines() if line and not line.startswith("#")]
    assert len(listed) == variants
    for variant in listed:
        playlist = output / variant
        text = playlist.read_text()
        assert text.rstrip().endswith("#EXT-X-ENDLIST")
        segments = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert len(segments) >= (min_segments or seconds // 4)  # ~4 s segments (copied: the source's GOP)
        for segment in segments:
            assert (playlist.parent / segment).stat().st_size > 0, segment
        durations = [float(line[8:].split(",")[0]) for line in text.splitlines() if line.startswith("#EXTINF:")]
        assert abs(sum(durations) - seconds) < 1
    assert (output / "poster.jpg").stat().st_size > 0
