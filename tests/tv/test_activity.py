"""Station activity for secretaries and group sessions turned into offline credits."""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dangxiao.accounts.models import User
from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.school import credit_rules
from dangxiao.school.credit_models import CreditEntry, CreditSource
from dangxiao.templating import local_today, site_zone
from dangxiao.transactions import atomic
from dangxiao.tv import activity
from dangxiao.tv.models import Play, PlayCredit


def _month_before(day):
    first = day.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


@pytest.fixture
def tree(app, create_branch, create_user, make_course, make_device):
    """镇党委 › 甲村支部 (站点 A, 党员 张一 李二, 书记 王甲) and 乙村支部 (站点 B, 赵三, 书记 钱乙);
    站点 C sits on the 党委 itself. Plays in last month (and one the month before)."""
    top = create_branch("城关镇党委", kind="committee")
    a = create_branch("甲村支部", parent=top)
    b = create_branch("乙村支部", parent=top)
    ids = {
        "m1": create_user("zhang1", branch=a, display_name="张一"),
        "m2": create_user("li2", branch=a, display_name="李二"),
        "m3": create_user("zhao3", branch=b, display_name="赵三"),
        "sec_a": create_user("wangjia", roles=(("branch_secretary", a),), branch=a, display_name="王甲"),
        "sec_b": create_user("qianyi", roles=(("branch_secretary", b),), branch=b, display_name="钱乙"),
        "sec_top": create_user("chenzong", roles=(("branch_secretary", top),), branch=top, display_name="陈总"),
    }
    course = make_course(durations=(1800.0, 1800.0), title="乡村振兴")
    l1, l2 = course.lesson_ids
    dev_a, _ = make_device(a, "=甲村接收站")
    dev_b, _ = make_device(b, "乙村接收站")
    dev_c, _ = make_device(top, "镇接收站")
    with app.app_context():
        month = _month_before(local_today())
        # stored in UTC, as the app writes them; the month is a local (Beijing) month
        at = datetime(month.year, month.month, 1, 0, 30, tzinfo=site_zone()).astimezone(UTC)  # 前一天 16:30 UTC
        earlier = datetime(month.year, month.month, 1, 0, 0, tzinfo=site_zone()).astimezone(UTC) - timedelta(minutes=1)
        plays = {}
        with atomic():
            for name, device, lesson, started, seconds, attendees in (
                ("p1", dev_a, l1, at, 1200.0, 8),
                ("p2", dev_a, l1, at + timedelta(days=1), 600.0, None),
                ("p3", dev_a, l2, at + timedelta(days=2), 1800.0, 0),
                ("old", dev_a, l2, earlier, 999.0, 30),
                ("p4", dev_b, l1, at, 1800.0, 5),
            ):
                play = Play(
                    token=secrets.token_urlsafe(32),
                    device_id=device,
                    lesson_id=lesson,
                    started_at=started,
                    reported_at=started,
                    seconds=seconds,
                    position=seconds,
                    attendees=attendees,
                )
                db.session.add(play)
                db.session.flush()
                plays[name] = play.id
    return {"top": top, "a": a, "b": b, "A": dev_a, "B": dev_b, "C": dev_c, "month": month, **ids, **plays}


def _user(user_id):
    return db.session.get(User, user_id)


def test_month_numbers_scope_and_export(ctx, tree, auth, client):
    month = tree["month"]
    rows = activity.station_month(_user(tree["sec_top"]), tree["top"], month)
    got = {r.device_id: (r.plays, r.seconds, r.hours, r.sessions, r.attendees, r.lessons) for r in rows}
    assert got == {
        tree["A"]: (3, 3600.0, 1.0, 1, 8, 2),  # p1+p2+p3; "old" is the month before; p3 reported 0 people
        tree["B"]: (1, 1800.0, 0.5, 1, 5, 1),
        tree["C"]: (0, 0.0, 0.0, 0, 0, 0),
    }
    t = activity.totals(rows)
    assert (t.stations, t.plays, t.seconds, t.sessions, t.attendees) == (3, 4, 5400.0, 2, 13)
    earlier = activity.station_month(_user(tree["sec_top"]), tree["top"], _month_before(month))
    assert {r.device_id: r.plays for r in earlier}[tree["A"]] == 1
    sec_a = _user(tree["sec_a"])
    assert [r.device_id for r in activity.station_month(sec_a, tree["a"], month)] == [tree["A"]]
    with pytest.raises(Forbidden):
        activity.station_month(sec_a, tree["top"], month)
    assert [p.id for p in activity.plays_for(sec_a, tree["A"], month)] == [tree["p3"], tree["p2"], tree["p1"]]
    with pytest.raises(Forbidden):
        activity.plays_for(sec_a, tree["B"], month)

    today = local_today()
    assert activity.parse_month(None, today) == today.replace(day=1)
    assert activity.parse_month("2026-03", today).month == 3
    for raw, code in (("2026-13", "month_invalid"), ("26-01", "month_invalid"), ("x", "month_invalid")):
        with pytest.raises(DomainError) as error:
            activity.parse_month(raw, today)
        assert error.value.code == code
    with pytest.raises(DomainError) as error:
        activity.parse_month(f"{today.year + 1}-01", today)
    assert error.value.code == "month_future"

    m = month.strftime("%Y-%m")
    auth.login("chenzong")
    page = client.get(f"/school/stations/?branch={tree['top']}&month={m}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "=甲村接收站" in html and 'data-testid="total-plays">4<' in html and "5.0 小时" not in html
    assert client.get(f"/school/stations/?branch={tree['top']}&month=2026-99").status_code == 400
    export = client.get(f"/school/stations/export.csv?branch={tree['top']}&month={m}")
    assert export.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert table[0][0] == "接收站点" and table[-1][:1] == ["合计"] and table[-1][4] == "4"
    by_name = {row[0]: row for row in table[1:-1]}
    assert by_name["'=甲村接收站"][4:9] == ["3", "1.0", "1", "8", "2"]  # formula-safe
    station = client.get(f"/school/stations/{tree['A']}?month={m}")
    assert station.status_code == 200 and station.get_data(as_text=True).count("data-play=") == 3
    assert client.get(f"/school/stations/{tree['B']}?month={m}").status_code == 200  # within the 党委

    auth.logout()
    auth.login("zhang1")  # a member: not a secretary anywhere
    assert client.get("/school/stations/").status_code == 403
    assert client.get(f"/school/stations/{tree['A']}").status_code == 403


def _ledger(user_id):
    return db.session.scalars(select(CreditEntry).where(CreditEntry.user_id == user_id)).all()


def _counts():
    return (
        db.session.scalar(select(func.count()).select_from(CreditEntry)),
        db.session.scalar(select(func.count()).select_from(PlayCredit)),
    )


def test_credit_group_session(ctx, tree, auth, client):
    url = f"/school/stations/plays/{tree['p1']}/credit"
    auth.login("wangjia")
    form = client.get(url)
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "<legend>" in html and "张一" in html and "李二" in html
    assert "赵三" not in html  # another branch's member is not offered

    done = client.post(url, data={"member_ids": [str(tree["m1"]), str(tree["m2"])], "note": "村委会议室"})
    assert done.status_code == 302
    assert "已为 2 名党员登记学时" in client.get(done.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    amount = credit_rules.lesson_credit(1800.0)
    for member in ("m1", "m2"):
        (entry,) = _ledger(tree[member])
        assert entry.created_by_id == tree["sec_a"] and entry.source == CreditSource.offline
        assert entry.amount == amount and entry.reference.startswith("接收站点集中学习") and "第1讲" in entry.reference
        assert "村委会议室" in entry.reason
        credit = db.session.scalars(select(PlayCredit).where(PlayCredit.user_id == tree[member])).one()
        assert (credit.play_id, credit.credit_entry_id, credit.created_by_id) == (tree["p1"], entry.id, tree["sec_a"])
    assert _counts() == (2, 2)
    page = client.get(url).get_data(as_text=True)
    assert re.search(rf'value="{tree["m1"]}"\s+checked disabled>\s+张一', page)
    assert re.search(rf'value="{tree["sec_a"]}"\s+>\s+王甲', page)  # not credited: still a choice

    again = client.post(url, data={"member_ids": [str(tree["m1"])]})
    assert again.status_code == 400 and "张一已登记过本次学习" in again.get_data(as_text=True)
    outside = client.post(
        f"/school/stations/plays/{tree['p3']}/credit", data={"member_ids": [str(tree["m1"]), str(tree["m3"])]}
    )
    assert outside.status_code == 400 and "赵三不是本站点所属组织的在册党员" in outside.get_data(as_text=True)
    db.session.expire_all()
    assert _counts() == (2, 2)  # all or nothing: 张一 was not credited for p3 either

    with pytest.raises(DomainError) as error:  # 600 s of a 1800 s lesson
        activity.credit_group_session(_user(tree["sec_a"]), tree["p2"], [tree["m1"]])
    assert error.value.code == "play_too_short"
    with pytest.raises(DomainError) as error:
        activity.credit_group_session(_user(tree["sec_a"]), tree["p1"], [tree["m2"]])
    assert error.value.code == "play_already_credited"
    db.session.rollback()

    auth.logout()
    auth.login("qianyi")  # secretary of the other branch
    assert client.get(url).status_code == 403
    assert client.post(url, data={"member_ids": [str(tree["m3"])]}).status_code == 403
    auth.logout()
    auth.login("zhang1")
    assert client.post(url, data={"member_ids": [str(tree["m1"])]}).status_code == 403
    db.session.expire_all()
    assert _counts() == (2, 2)
