"""Forum benchmark: a topic page and a reply on a forum of 100,000 posts, in-process.

Run from the repository root: ``python bench/forum.py``. Prints one figure per line on
stdout (``name = value unit``); progress notes go to stderr.

Generated data, inserted in bulk into a migrated SQLite file: 600 members, 6 boards,
2,000 topics and 100,000 posts (one topic with 6,000 replies, the rest ~47 each), a few
likes, 500 moderation rules (so each post passes a real keyword check).

- forum.topic_page_50_posts.p50: a member opens page N (50 posts a page) of the 6,000-reply
  topic through the test client, pages spread over the whole topic (goal ≤ 15 ms).
- forum.post_reply.p50: ``forum.posting.reply`` in its own ``atomic()`` as a member, into
  topics across the forum, each text different (goal ≤ 20 ms).
- forum.posts: how many posts the database held when measuring.

``BENCH_PROFILE=1`` also prints, on stderr, the SQL statements per measured call and the
top of a cProfile of each measurement. Rate limits are raised and CSRF is not checked here:
the figures are the application's own work.
"""

from __future__ import annotations

import cProfile
import hashlib
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, func, insert, select, update  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from dangxiao import create_app  # noqa: E402
from dangxiao.accounts.models import Branch, Role, User, UserRole  # noqa: E402
from dangxiao.extensions import db  # noqa: E402
from dangxiao.text.normalise import normalise_text  # noqa: E402
from forum.models import Board, Post, PostLike, Topic  # noqa: E402
from forum.moderation.models import ModerationRule  # noqa: E402

MEMBERS = 600
BOARDS = 6
TOPICS = 2_000
POSTS = 100_000
BIG_TOPIC_REPLIES = 6_000
PAGE_SIZE = 50
RULES = 500
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
PASSWORD = "bench-password-1"  # noqa: S105 — generated data only

WORDS = (
    "学习 贯彻 党的 二十大 精神 三会一课 主题党日 组织生活会 党员 支部 书记 群众 乡村振兴 "
    "基层治理 志愿服务 理论 实践 初心 使命 担当 作风 纪律 廉洁 党章 党课 发言 体会 收获 "
    "问题 建议 经验 做法 活动 组织关系 转接 流动党员 茶园 合作社 村集体 经济 调研 走访"
).split()
PUNCTUATION = "，，，。。、！；"
RULE_CHARS = "龘靐齉爩鱻麤龖厵灥癵驫鸞籲蠻纞鬱灩靉龗齾"  # rare: rules exist but seldom fire


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def p50(run: Callable[[int], object], rounds: int = ROUNDS, warmup: int = 5) -> float:
    """Median milliseconds of ``run(i)`` over `rounds` calls, after a few unmeasured ones."""
    for i in range(warmup):
        run(i + rounds)
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bulk(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(model), rows[start : start + 5000])


def sentence(rng: random.Random, words: int) -> str:
    parts = []
    for _ in range(words):
        parts.append(rng.choice(WORDS))
        if rng.random() < 0.2:
            parts.append(rng.choice(PUNCTUATION))
    return "".join(parts) + "。"


def generate() -> dict:
    """Insert the forum; returns the ids the measurements use."""
    rng = random.Random(8)
    now = datetime.now(UTC)
    old = now - timedelta(days=400)  # accounts past the new-account limits
    bulk(Branch, [{"id": 1, "name": "县委", "kind": "committee", "parent_id": None, "created_at": old}])
    bulk(
        Branch,
        [{"id": b, "name": f"第{b}支部", "kind": "branch", "parent_id": 1, "created_at": old} for b in range(2, 22)],
    )
    password_hash = generate_password_hash(PASSWORD)
    users = [
        {
            "id": i,
            "username": f"m{i}",
            "username_key": f"m{i}",
            "display_name": f"党员{i}",
            "password_hash": password_hash,
            "branch_id": 2 + i % 20,
            "status": "active",
            "created_at": old,
        }
        for i in range(1, MEMBERS + 1)
    ]
    bulk(User, users)
    bulk(UserRole, [{"user_id": i, "role": Role.member.value, "scope_branch_id": None} for i in range(1, MEMBERS + 1)])
    bulk(
        Board,
        [
            {
                "id": b,
                "name": f"版块{b}",
                "description": "",
                "position": b,
                "read_access": "members",
                "post_access": "members",
                "approval": "none",
                "flag_threshold": 3,
                "edit_window_minutes": 60,
                "archived": False,
                "topic_count": 0,
                "post_count": 0,
                "created_at": old,
            }
            for b in range(1, BOARDS + 1)
        ],
    )
    bulk(
        ModerationRule,
        [
            {
                "word": word,
                "pattern": normalise_text(word),
                "action": ("block", "review", "censor", "flag")[n % 4],
                "scope": "all",
                "category": "",
                "enabled": True,
                "hits": 0,
                "created_at": old,
                "updated_at": old,
            }
            for n, word in enumerate(
                sorted({"".join(rng.sample(RULE_CHARS, rng.randint(2, 3))) for _ in range(RULES * 3)})[:RULES]
            )
        ],
    )

    # Topic 1 is the big one; the others share the remaining posts.
    replies = [BIG_TOPIC_REPLIES] + [0] * (TOPICS - 1)
    for _ in range(POSTS - TOPICS - BIG_TOPIC_REPLIES):
        replies[rng.randrange(1, TOPICS)] += 1
    topics, posts = [], []
    post_id = 0
    start = now - timedelta(days=200)
    for t in range(1, TOPICS + 1):
        author = rng.randint(1, MEMBERS)
        opened = start + timedelta(minutes=rng.randrange(200 * 24 * 60 - 60 * 24))
        topics.append(
            {
                "id": t,
                "board_id": 1 if t == 1 else 1 + t % BOARDS,
                "author_id": author,
                "title": f"关于{rng.choice(WORDS)}的讨论（{t}）",
                "kind": "discussion",
                "state": "published",
                "pinned": False,
                "locked": False,
                "reply_count": replies[t - 1],
                "like_count": 0,
                "last_post_at": opened,
                "created_at": opened,
            }
        )
        at = opened
        for n in range(replies[t - 1] + 1):
            post_id += 1
            by = author if n == 0 else rng.randint(1, MEMBERS)
            body = sentence(rng, rng.randint(12, 60))
            posts.append(
                {
                    "id": post_id,
                    "topic_id": t,
                    "author_id": by,
                    "body": body,
                    "body_html": f"<p>{body}</p>",
                    "state": "published",
                    "content_hash": hashlib.sha256(f"{post_id}".encode()).hexdigest(),
                    "like_count": 0,
                    "flag_count": 0,
                    "edit_count": 0,
                    "created_at": at,
                }
            )
            at += timedelta(seconds=rng.randint(10, 600) if t == 1 else rng.randint(60, 6000))
        topics[-1].update(first=post_id - replies[t - 1], last=post_id, last_at=at, last_by=by)
    for row in topics:
        row["last_post_at"] = row.pop("last_at")
        row["last_author_id"] = row.pop("last_by")
    links = [(row.pop("first"), row.pop("last")) for row in topics]
    bulk(Topic, topics)
    bulk(Post, posts)
    db.session.execute(
        update(Topic),
        [{"id": t, "first_post_id": first, "last_post_id": last} for t, (first, last) in enumerate(links, start=1)],
    )
    likes = {(rng.randint(1, post_id), rng.randint(1, MEMBERS)) for _ in range(20_000)}
    bulk(PostLike, [{"post_id": p, "user_id": u, "created_at": now} for p, u in likes])
    db.session.execute(update(Post), [{"id": p, "like_count": n} for p, n in _counts(p for p, _ in likes).items()])
    for b in range(1, BOARDS + 1):
        counts = select(func.count(Topic.id), func.sum(Topic.reply_count), func.max(Topic.last_post_at)).where(
            Topic.board_id == b
        )
        n_topics, n_replies, last = db.session.execute(counts).one()
        db.session.execute(
            update(Board)
            .where(Board.id == b)
            .values(topic_count=n_topics, post_count=n_topics + (n_replies or 0), last_post_at=last)
        )
    db.session.commit()
    total = db.session.scalar(select(func.count(Post.id)))
    note(f"  {MEMBERS} members, {TOPICS} topics, {total} posts, {len(likes)} likes, {RULES} rules")
    return {"big_topic": 1, "big_pages": -(-(BIG_TOPIC_REPLIES + 1) // PAGE_SIZE), "posts": total}


def _counts(values) -> dict[int, int]:
    out: dict[int, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out


def login(client, username: str) -> None:
    response = client.post("/accounts/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code


class StatementCounter:
    """Counts SQL statements on the app's engine (BENCH_PROFILE=1)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args) -> None:
        self.count += 1


def profiled(name: str, run: Callable[[int], object], rounds: int = 50) -> None:
    counter = StatementCounter()
    event.listen(db.engine, "before_cursor_execute", counter)
    run(10_000)
    per_call = counter.count
    profile = cProfile.Profile()
    profile.enable()
    for i in range(rounds):
        run(20_000 + i)
    profile.disable()
    event.remove(db.engine, "before_cursor_execute", counter)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(35)
    note(f"--- {name}: {per_call} SQL statements per call; cProfile over {rounds} calls ---")
    note(out.getvalue())


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dangxiao-bench-") as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "INSTANCE_PATH": tmp,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "FORUM_PAGE_SIZE": PAGE_SIZE,
                "FORUM_REPLIES_PER_MINUTE": 1_000_000,
                "FORUM_TOPICS_PER_HOUR": 1_000_000,
                "FORUM_NEW_REPLIES_PER_MINUTE": 1_000_000,
                "FORUM_NEW_TOPICS_PER_HOUR": 1_000_000,
            }
        )
        with app.app_context():
            note("migrating and generating data …")
            upgrade()
            ids = generate()
        print(f"forum.posts = {ids['posts']} count", flush=True)

        member = app.test_client()
        login(member, "m7")
        pages = ids["big_pages"]
        has_topic_page = "forum.topic" in app.view_functions

        if has_topic_page:

            def topic_page(i: int) -> None:
                page = 1 + (i * 37) % pages
                response = member.get(f"/forum/t/{ids['big_topic']}?page={page}")
                assert response.status_code == 200, response.status_code

            print(f"forum.topic_page_50_posts.p50 = {p50(topic_page):.2f} ms", flush=True)
            if PROFILE:
                with app.app_context():
                    profiled("topic page", topic_page)
        else:
            note("forum.topic is not registered yet: the topic page is not measured")

        try:
            from forum import posting
        except ImportError:
            note("forum.posting does not exist yet: replies are not measured")
            return
        from dangxiao.transactions import atomic

        rng = random.Random(9)
        with app.test_request_context():

            def post_reply(i: int) -> None:
                with atomic():
                    actor = db.session.get(User, 1 + (i * 7) % MEMBERS)
                    topic = db.session.get(Topic, 1 + (i * 13) % TOPICS)
                    posting.reply(actor, topic, f"{sentence(rng, 20)}（第{i}条）")

            print(f"forum.post_reply.p50 = {p50(post_reply):.2f} ms", flush=True)
            if PROFILE:
                profiled("reply", post_reply)


if __name__ == "__main__":
    main()
