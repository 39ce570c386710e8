"""Working days and deadlines: weekends, configured holidays and make-up workdays, bad settings.

Pure date arithmetic over the app's config: one backend is enough.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from forum.helpdesk import sla

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    return request.param


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_three_working_days_skip_the_weekend(ctx):
    # Friday 2026-03-06, 10:00 → Mon, Tue, Wed: due Wednesday 23:59:59 local
    assert sla.due_at(local(2026, 3, 6, 10)).astimezone(SHANGHAI) == local(2026, 3, 11, 23, 59, 59)
    # Filed Saturday 01:00 local (Friday 17:00 UTC): counted from the local Saturday
    assert sla.due_at(local(2026, 3, 7, 1)).astimezone(SHANGHAI) == local(2026, 3, 11, 23, 59, 59)
    assert sla.due_at(local(2026, 3, 9, 9), days=1).astimezone(SHANGHAI) == local(2026, 3, 10, 23, 59, 59)


def test_holidays_and_make_up_workdays(ctx, app, tmp_path):
    # National Day 2026: Oct 1-7 off (Thu-Wed), Sat Oct 10 worked instead
    app.config["HELPDESK_HOLIDAYS"] = "2026-10-01, 2026-10-02 2026-10-05,2026-10-06\n2026-10-07"
    app.config["HELPDESK_MAKEUP_WORKDAYS"] = "2026-10-10"
    assert not sla.is_working_day(datetime(2026, 10, 6).date())
    assert sla.is_working_day(datetime(2026, 10, 10).date())
    # Filed Wed Sep 30 → Thu 8 (1), Fri 9 (2), Sat 10 (3: make-up)
    assert sla.due_at(local(2026, 9, 30, 15)).astimezone(SHANGHAI) == local(2026, 10, 10, 23, 59, 59)
    listing = tmp_path / "holidays.txt"
    listing.write_text("# 国庆\n2026-10-01\n2026-10-02  # 周五\n", encoding="utf-8")
    app.config.update(HELPDESK_HOLIDAYS=str(listing), HELPDESK_MAKEUP_WORKDAYS="")
    assert sla.holidays() == {datetime(2026, 10, 1).date(), datetime(2026, 10, 2).date()}
    assert sla.due_at(local(2026, 9, 30, 15)).astimezone(SHANGHAI) == local(2026, 10, 7, 23, 59, 59)


def test_a_bad_date_is_a_configuration_error_naming_it(ctx, app):
    app.config["HELPDESK_HOLIDAYS"] = "2026-10-01,2026-02-30"
    with pytest.raises(sla.SLAConfigError, match="2026-02-30"):
        sla.due_at(local(2026, 3, 6, 10))
    with pytest.raises(sla.SLAConfigError, match="HELPDESK_MAKEUP_WORKDAYS"):
        sla.check_config({"HELPDESK_MAKEUP_WORKDAYS": "10/10/2026"})
