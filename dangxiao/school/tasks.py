"""The school's periodic work on the Huey queue: the daily deadline reminders.

The task runs every hour and sends once the site's local clock has passed REMINDER_HOUR
(08:00 by default): reminders are idempotent, so the hourly runs after the first are
no-ops, and a worker that was down at 08:00 still sends when it comes back that day.
Huey matches crontabs in UTC, hence the hourly schedule and the local-hour check here.
"""

from __future__ import annotations

import logging

from flask import Flask
from huey import crontab

from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.templating import site_zone

log = logging.getLogger(__name__)

TASK_NAME = "school.deadline_reminders"
REMINDER_HOUR = 8


def register_tasks(app: Flask) -> None:
    """Register the hourly reminder task on this app's queue (needs a consumer with periodic on)."""
    huey = app.extensions["huey"]

    @huey.periodic_task(crontab(minute="5"), name=TASK_NAME)
    def deadline_reminders() -> None:
        from dangxiao.school.reminders import send_deadline_reminders
        from dangxiao.transactions import atomic

        with app.app_context():
            hour = int(app.config.get("SCHOOL_REMINDER_HOUR", REMINDER_HOUR))
            if utcnow().astimezone(site_zone()).hour < hour:
                return
            try:
                with atomic():
                    sent = send_deadline_reminders()
            finally:
                db.session.remove()
            if sent:
                log.info("school: sent %d deadline reminders", sent)

    app.extensions["school.reminder_task"] = deadline_reminders
