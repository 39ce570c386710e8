"""`flask media worker`: Huey's consumer in this process, plus the reaper thread.

The consumer runs tasks in worker threads (each task pushes the app context it was
registered with). The reaper runs every few seconds in a thread of its own: it
re-queues jobs whose worker stopped sending progress and re-sends queued jobs that
the queue lost, so nothing stays "running" or "queued" forever; every few minutes it
also sweeps files nobody serves any more (see :func:`media.jobs.sweep`).

Stopping: SIGINT (Ctrl-C, systemd ``KillSignal=SIGINT``) and SIGTERM both stop the running
transcodes at once — ffmpeg runs in its own session, so the terminal's Ctrl-C reaches only
the worker, which kills it — hand their jobs back to the queue without counting the
attempt, and exit. A second SIGINT exits without waiting. A worker killed with -9 takes its
ffmpeg along (parent-death signal); its job is re-queued by another worker's reaper once the
heartbeat is JOB_HEARTBEAT_TIMEOUT old.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from flask import Flask
from huey.consumer import Consumer

from dangxiao.extensions import db
from media import jobs, tasks, uploads

log = logging.getLogger(__name__)


#: Shutdown waits this long for the running tasks to hand their jobs back, then exits anyway.
SHUTDOWN_TIMEOUT = 30.0


class MediaConsumer(Consumer):
    """Huey's thread consumer whose stop signals first interrupt the running transcodes.

    Huey waits for running tasks on SIGINT (a whole transcode) and abandons them on SIGTERM
    (the job would wait for the reaper). Here both first tell :mod:`media.tasks` to stop, and
    both then stop gracefully: the tasks return within a second, their jobs re-queued.
    """

    def _handle_signal(self, signum, frame):
        if signum in (signal.SIGINT, signal.SIGTERM):
            log.warning("media worker: %s received, stopping the running transcodes", signal.Signals(signum).name)
            tasks.request_shutdown()
            signum = signal.SIGINT  # graceful: wait (briefly) for the jobs to be handed back
        super()._handle_signal(signum, frame)


class Reaper(threading.Thread):
    def __init__(self, app: Flask, interval: float, sweep_interval: float | None = None):
        super().__init__(name="media-reaper", daemon=True)
        self.app = app
        self.interval = interval
        self.stopped = threading.Event()
        self.sweep_interval = sweep_interval
        self._next_sweep = 0.0  # the first tick sweeps

    def run(self) -> None:
        while not self.stopped.is_set():
            self.tick()
            self.stopped.wait(self.interval)

    def tick(self) -> jobs.ReapReport | None:
        with self.app.app_context():
            try:
                pending = self.app.extensions["huey"].pending_count()
                report = jobs.reap(pending_tasks=pending)
                uploads.sweep_expired_uploads()  # unfinished uploads past MEDIA_UPLOAD_EXPIRY_HOURS
                self.sweep_files()
            except Exception:  # noqa: BLE001 — a database hiccup must not kill the reaper
                log.exception("media reaper failed; trying again in %.0f s", self.interval)
                db.session.rollback()
                return None
            finally:
                db.session.remove()
        if report.requeued or report.failed or report.resent:
            log.warning(
                "media reaper: requeued %s, failed %s, re-sent %s", report.requeued, report.failed, report.resent
            )
        return report

    def sweep_files(self) -> jobs.SweepReport | None:
        """Every JOB_SWEEP_INTERVAL seconds: expired previous versions and leftover folders."""
        now = time.monotonic()
        if now < self._next_sweep:
            return None
        self._next_sweep = now + (self.sweep_interval or jobs.sweep_interval())
        report = jobs.sweep()
        if report.expired or report.removed:
            log.info("media sweep: previous versions expired for assets %s; removed %s", report.expired, report.removed)
        return report

    def stop(self) -> None:
        self.stopped.set()


def run_worker(app: Flask, workers: int | None = None) -> None:
    """Block running the consumer until SIGINT/SIGTERM; the reaper stops with it."""
    with app.app_context():
        interval = jobs.reaper_interval()
    huey = app.extensions["huey"]
    workers = max(1, int(workers or app.config.get("HUEY_WORKERS") or 1))
    tasks.reset_shutdown()
    consumer = MediaConsumer(
        huey,
        workers=workers,
        worker_type="thread",
        periodic=True,  # the school's daily deadline reminders (dangxiao/school/tasks.py)
        initial_delay=0.1,
        backoff=1.15,
        max_delay=2.0,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )
    reaper = Reaper(app, interval)
    reaper.tick()  # jobs orphaned by a previous worker are picked up at once, not in `interval`
    reaper.start()
    log.info(
        "media worker: %d thread(s), heartbeat timeout %ss, reaper every %.1fs",
        workers,
        app.config["JOB_HEARTBEAT_TIMEOUT"],
        interval,
    )
    try:
        consumer.run()
    finally:
        reaper.stop()
        reaper.join(timeout=5)
