"""`flask media worker`: Huey's consumer in this process, plus the reaper thread.

The consumer runs tasks in worker threads (each task pushes the app context it was
registered with). The reaper runs every few seconds in a thread of its own: it
re-queues jobs whose worker stopped sending progress and re-sends queued jobs that
the queue lost, so nothing stays "running" or "queued" forever.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from dangxiao.extensions import db
from media import jobs

log = logging.getLogger(__name__)


class Reaper(threading.Thread):
    def __init__(self, app: Flask, interval: float):
        super().__init__(name="media-reaper", daemon=True)
        self.app = app
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.tick()
            self.stopped.wait(self.interval)

    def tick(self) -> jobs.ReapReport | None:
        with self.app.app_context():
            try:
                pending = self.app.extensions["huey"].pending_count()
                report = jobs.reap(pending_tasks=pending)
            except Exception:  # noqa: BLE001 — a database hiccup must not kill the reaper
                log.exception("media reaper failed; trying again in %.0f s", self.interval)
                db.session.rollback()
                return None
            finally:
                db.session.remove()
        if report.requeued or report.failed or report.resent:
            log.warning("media reaper: requeued %s, failed %s, re-sent %s",
                        report.requeued, report.failed, report.resent)
        return report

    def stop(self) -> None:
        self.stopped.set()


def run_worker(app: Flask, workers: int | None = None) -> None:
    """Block running the consumer until SIGINT/SIGTERM; the reaper stops with it."""
    with app.app_context():
        interval = jobs.reaper_interval()
    huey = app.extensions["huey"]
    workers = max(1, int(workers or app.config.get("HUEY_WORKERS") or 1))
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                    initial_delay=0.1, backoff=1.15, max_delay=2.0)
    reaper = Reaper(app, interval)
    reaper.tick()  # jobs orphaned by a previous worker are picked up at once, not in `interval`
    reaper.start()
    log.info("media worker: %d thread(s), heartbeat timeout %ss, reaper every %.1fs",
             workers, app.config["JOB_HEARTBEAT_TIMEOUT"], interval)
    try:
        consumer.run()
    finally:
        reaper.stop()
        reaper.join(timeout=5)
