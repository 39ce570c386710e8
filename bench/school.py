"""School benchmark: the pages and the player API at county scale, in-process with the test client.

Run from the repository root: ``python bench/school.py``. Prints one figure per line on
stdout (``name = value unit``); progress notes go to stderr.

Generated data, inserted in bulk into a migrated SQLite file: 200 courses with 2,000 lessons,
36,000 members in 1,200 branches (a county committee, 12 town committees of 99 branches each,
about 3,000 members per town), some watch progress and ledger entries per member.

- school.course_page.p50: a member's course page with ten lessons and their progress (goal ≤ 15 ms).
- school.watch_report.p50: one progress report on a live watch session (goal ≤ 10 ms).
- school.branch_report_3000_members.p50: a town secretary's report over ~3,000 members (goal ≤ 300 ms).

Rate limits are off and CSRF is not checked here: the figures are the application's own work.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from dangxiao import create_app  # noqa: E402
from dangxiao.accounts.models import Branch, Role, User, UserRole  # noqa: E402
from dangxiao.extensions import db  # noqa: E402
from dangxiao.school.credit_models import CreditEntry, CreditSource  # noqa: E402
from dangxiao.school.models import Category, Course, CourseAssignment, Lesson, LessonProgress  # noqa: E402
from media.models import AssetStatus, MediaAsset  # noqa: E402

TOWNS = 12
BRANCHES_PER_TOWN = 99
MEMBERS = 36_000
COURSES = 200
LESSONS_PER_COURSE = 10
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
PASSWORD = "bench-password-1"  # noqa: S105 — generated data only
YEAR = 2026


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def p50(run: Callable[[int], object], rounds: int = ROUNDS, warmup: int = 5) -> float:
    """Median milliseconds of ``run(i)`` over `rounds` calls, after a few unmeasured ones."""
    for i in range(warmup):
        run(i)
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bulk(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(model), rows[start : start + 5000])


def generate() -> dict:
    """Insert the county; returns the ids the measurements use."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    bulk(Branch, [{"id": 1, "name": "县委", "kind": "committee", "parent_id": None, "created_at": now}])
    branches, leaves, towns = [], [], []
    next_id = 2
    for t in range(TOWNS):
        town = next_id
        towns.append(town)
        branches.append(
            {"id": town, "name": f"第{t + 1}镇党委", "kind": "committee", "parent_id": 1, "created_at": now}
        )
        next_id += 1
        for b in range(BRANCHES_PER_TOWN):
            branches.append(
                {"id": next_id, "name": f"第{b + 1}村党支部", "kind": "branch", "parent_id": town, "created_at": now}
            )
            leaves.append(next_id)
            next_id += 1
    bulk(Branch, branches)
    password_hash = generate_password_hash(PASSWORD)
    users, roles = [], []
    for i in range(1, MEMBERS + 1):
        users.append(
            {
                "id": i,
                "username": f"m{i}",
                "username_key": f"m{i}",
                "display_name": f"党员{i}",
                "password_hash": password_hash,
                "branch_id": leaves[i % len(leaves)],
                "status": "active",
                "created_at": now,
            }
        )
        roles.append({"user_id": i, "role": Role.member.value, "scope_branch_id": None})
    secretary = MEMBERS + 1
    users.append(dict(users[0], id=secretary, username="sec", username_key="sec", display_name="书记"))
    roles.append({"user_id": secretary, "role": Role.branch_secretary.value, "scope_branch_id": towns[0]})
    bulk(User, users)
    bulk(UserRole, roles)
    note(f"  {len(branches) + 1} branches, {MEMBERS} members")

    bulk(Category, [{"id": c, "name": f"分类{c}", "position": c, "created_at": now} for c in range(1, 6)])
    assets = [
        {
            "id": a,
            "title": f"课件{a}",
            "original_filename": f"{a}.mp4",
            "size": 1,
            "status": AssetStatus.ready.value,
            "duration": 600.0 + a,
            "output_dir": f"assets/{a}/v0000000{a % 10}",
            "output_bytes": 1,
            "fallback_name": "video.mp4",
            "fast_path": False,
            "has_video": True,
            "has_audio": True,
            "created_at": now,
            "updated_at": now,
        }
        for a in range(1, 51)
    ]
    bulk(MediaAsset, assets)
    courses, lessons = [], []
    for c in range(1, COURSES + 1):
        courses.append(
            {
                "id": c,
                "title": f"课程{c}",
                "summary": "",
                "summary_html": "<p>简介</p>",
                "category_id": c % 5 + 1,
                "teacher": "讲师",
                "year": YEAR,
                "required": c == 1,
                "open_to_all": c != 1,
                "credit_hours": 5.0,
                "published": True,
                "created_at": now,
                "updated_at": now,
            }
        )
        for p in range(1, LESSONS_PER_COURSE + 1):
            lid = (c - 1) * LESSONS_PER_COURSE + p
            lessons.append(
                {
                    "id": lid,
                    "course_id": c,
                    "position": p,
                    "title": f"第{p}讲",
                    "description_html": "",
                    "asset_id": lid % 50 + 1,
                    "duration": 600.0 + lid % 50 + 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    bulk(Course, courses)
    bulk(Lesson, lessons)
    bulk(
        CourseAssignment,
        [{"course_id": 1, "branch_id": 1, "year": YEAR, "deadline": date(YEAR, 12, 31), "created_at": now}],
    )
    progress, entries = [], []
    for i in range(1, MEMBERS + 1):
        for lesson in rng.sample(range(2, COURSES * LESSONS_PER_COURSE + 1), 3):
            done = rng.random() < 0.5
            progress.append(
                {
                    "user_id": i,
                    "lesson_id": lesson,
                    "intervals": [[0.0, 600.0 if done else 120.0]],
                    "played": 600.0 if done else 120.0,
                    "position": 0.0,
                    "complete": done,
                    "created_at": now,
                    "updated_at": now - timedelta(days=rng.randrange(300)),
                }
            )
            if done:
                entries.append(
                    {
                        "user_id": i,
                        "year": YEAR,
                        "amount": Decimal("1.00"),
                        "source": CreditSource.lesson.value,
                        "ref_id": lesson,
                        "reference": "",
                        "reason": "",
                        "award_key": f"lesson:{lesson}",
                        "created_at": now - timedelta(days=rng.randrange(300)),
                    }
                )
    bulk(LessonProgress, progress)
    bulk(CreditEntry, entries)
    db.session.commit()
    note(f"  {len(progress)} progress rows, {len(entries)} ledger entries")
    return {"town": towns[0], "member": leaves[0] and 1, "secretary": "sec"}


def login(client, username: str) -> None:
    response = client.post("/accounts/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dangxiao-bench-") as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "INSTANCE_PATH": tmp,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            note("migrating and generating data …")
            upgrade()
            ids = generate()
        member = app.test_client()
        login(member, "m1")

        def course_page(i: int) -> None:
            response = member.get(f"/school/courses/{i % COURSES + 1}")
            assert response.status_code == 200, response.status_code

        print(f"school.course_page.p50 = {p50(course_page):.2f} ms", flush=True)

        started = member.post("/api/school/lessons/1/watch")
        assert started.status_code == 201, started.get_data(as_text=True)
        session = started.get_json()["session"]

        def watch_report(i: int) -> None:
            at = (i % 500) + 0.5
            body = {"intervals": [[at, at + 0.5]], "rate": 1.0, "position": at + 0.5}
            response = member.post(f"/api/school/watch/{session}", json=body)
            assert response.status_code == 200, response.get_data(as_text=True)

        print(f"school.watch_report.p50 = {p50(watch_report):.2f} ms", flush=True)

        secretary = app.test_client()
        login(secretary, ids["secretary"])

        def branch_report(_: int) -> None:
            response = secretary.get(f"/school/reports/?branch={ids['town']}")
            assert response.status_code == 200, response.status_code

        figure = p50(branch_report, rounds=max(10, ROUNDS // 10), warmup=2)
        print(f"school.branch_report_3000_members.p50 = {figure:.1f} ms", flush=True)


if __name__ == "__main__":
    main()
