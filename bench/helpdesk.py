"""Help-desk benchmark: hot topics over 100,000 texts and filing a request, in-process.

Run from the repository root: ``python bench/helpdesk.py``. Prints one figure per line on
stdout (``name = value unit``); progress notes go to stderr. ``BENCH_DOCS=10000`` for a
quick run (default 100,000), ``BENCH_ROUNDS`` for the filing calls (default 200).

Generated data (outside the timed parts), inserted in bulk into a migrated SQLite file:
850 members in 20 branches, 2,000 topics, and BENCH_DOCS texts — 70 % forum posts, 30 %
help requests — spread over the last 60 days. Texts are sentences composed from a few
hundred fragments (questions about transfers, dues, certificates, organisational life,
the party terms of dangxiao/text/party_terms.txt, place names) plus words drawn from
jieba's own dictionary, so the vocabulary is tens of thousands of words, not a handful.
200 keyword rules for the help desk (a few tag rules that fire), 6 routes, 2 handlers per
routed organisation.

- helpdesk.hot_topics_ingest.docs_per_second: ``hot.ingest()`` segmenting every text once,
  cold (the tokenizer is built inside the timing).
- helpdesk.hot_topics_30d.seconds: ``hot.hot_topics(30)`` with all texts already ingested
  and 50 new ones arrived (so the cache misses: ingest the 50, count 30 + 30 days of terms;
  goal ≤ 5 s).
- helpdesk.hot_topics_cached.ms: the same call again, nothing new (the cache key's queries).
- helpdesk.file_request.p50: ``forum.helpdesk.requests.file_request`` in its own
  ``atomic()`` — text checks, duplicate and daily-allowance queries, the keyword scan,
  routing, the SLA, the event and the handlers' notifications — each call by a different
  member (the allowance is 5 a day), each text different (goal ≤ 30 ms).
"""

from __future__ import annotations

import hashlib
import os
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
from sqlalchemy import func, insert, select, update  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from dangxiao import create_app  # noqa: E402
from dangxiao.accounts.models import Branch, Role, User, UserRole  # noqa: E402
from dangxiao.extensions import db  # noqa: E402
from dangxiao.text.normalise import normalise_text  # noqa: E402
from dangxiao.transactions import atomic  # noqa: E402
from forum.helpdesk import hot, regions  # noqa: E402
from forum.helpdesk.models import HelpRequest, HelpRoute, HotDocTerms  # noqa: E402
from forum.models import Board, Post, Topic  # noqa: E402
from forum.moderation.models import ModerationRule  # noqa: E402

DOCS = int(os.environ.get("BENCH_DOCS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
AUTHORS = 600
FILERS = ROUNDS + 50  # members who file during the measurement: one request each
BRANCHES = 20
BOARDS = 6
TOPICS = 2_000
RULES = 200
DAYS = 60
NEW_DOCS = 50
PASSWORD = "bench-password-1"  # noqa: S105 — generated data only

SUBJECTS = (
    "我",
    "本人",
    "我们支部",
    "我爱人",
    "我们单位的同事",
    "一名在外务工的党员",
    "刚毕业的大学生党员",
    "退休老党员",
    "我们村的流动党员",
    "在深圳打工的党员",
    "公司的党员职工",
    "支部书记",
    "组织委员",
    "宣传委员",
    "新转入的党员",
    "预备党员小王",
    "入党积极分子",
    "外卖骑手党员",
    "快递小哥党员",
    "在外地读研的党员",
    "个体户党员",
    "货车司机党员",
)
TIMES = (
    "上个月",
    "去年年底",
    "今年三月",
    "最近",
    "这两天",
    "春节前",
    "国庆以后",
    "下周",
    "月底之前",
    "年初",
    "前几天",
    "三年前",
    "毕业以后",
    "换工作以后",
    "搬家之后",
    "疫情期间",
)
ACTIONS = (
    "想办理",
    "正在办理",
    "需要开具",
    "还没有办",
    "准备申请",
    "不知道怎么办理",
    "一直在等",
    "已经提交了",
    "被退回了",
    "找不到地方办理",
    "想咨询一下",
    "想了解",
    "没来得及参加",
    "想补交",
    "按时缴纳了",
    "线上提交了",
    "多次联系",
    "想转出",
    "想转入",
    "想参加",
    "打算组织",
    "刚刚完成",
    "还差一步",
    "需要补充",
)
TOPICS_OF_TEXT = (
    "组织关系转接",
    "组织关系介绍信",
    "党费缴纳",
    "党费证明",
    "流动党员活动证",
    "党员证明",
    "党籍证明",
    "三会一课",
    "主题党日活动",
    "组织生活会",
    "民主评议党员",
    "预备党员转正",
    "入党申请书",
    "发展对象培训",
    "党员档案",
    "学习强国积分",
    "全国党员管理信息系统",
    "网上党校课程",
    "党史学习教育",
    "主题教育",
    "谈心谈话",
    "红色教育",
    "双重组织生活",
    "流动党员党支部",
    "党群服务中心",
    "志愿服务",
    "乡村振兴",
    "基层治理",
    "党小组会",
    "党课",
)
OBJECTS = (
    "的手续",
    "的材料",
    "的回执",
    "的有效期",
    "的流程",
    "的时间",
    "的地点",
    "的联系人",
    "的标准",
    "的金额",
    "的证明",
    "的系统",
    "的账号",
    "的记录",
    "的通知",
    "的安排",
    "的要求",
    "的模板",
    "的截止日期",
    "的审核",
)
QUESTIONS = (
    "请问应该找哪个部门？",
    "需要准备哪些材料？",
    "多长时间能办好？",
    "可以在网上办理吗？",
    "能不能委托别人代办？",
    "介绍信过期了怎么办？",
    "流入地党组织不接收怎么办？",
    "原支部联系不上怎么办？",
    "党费按什么标准交？",
    "补交党费需要写说明吗？",
    "证明信要盖哪里的章？",
    "能否参加现居住地的组织生活？",
    "谢谢！",
    "急，在线等。",
    "麻烦尽快回复。",
    "辛苦了！",
    "盼复。",
    "有没有电话可以咨询？",
    "系统里显示审核中是什么意思？",
    "转正材料要交给谁？",
    "考察期间要写思想汇报吗？",
    "活动证丢了能补办吗？",
)
REMARKS = (
    "支部书记说要等上级通知",
    "单位人事部门不清楚",
    "老家的镇党委让我先问问",
    "同事说可以先开临时证明",
    "网上查了很多说法不一样",
    "我在外地工作时间比较长",
    "家里老人生病不方便回去",
    "平时上班时间不固定",
    "学习强国上看到相关政策",
    "党员管理信息系统里信息不对",
    "之前的介绍信已经寄回去了",
    "党小组长已经换人了",
    "公司所在园区有党群服务中心",
    "村里的党支部换届了",
    "今年工资调整以后",
    "社保和户口都已经迁过来",
)
PLACES = (
    "深圳",
    "广州",
    "东莞",
    "佛山",
    "杭州",
    "宁波",
    "苏州",
    "上海",
    "北京",
    "天津",
    "成都",
    "重庆",
    "武汉",
    "长沙",
    "西安",
    "郑州",
    "南京",
    "合肥",
    "厦门",
    "福州",
    "昆明",
    "贵阳",
    "南宁",
    "海口",
    "济南",
    "青岛",
    "沈阳",
    "大连",
    "哈尔滨",
    "长春",
    "石家庄",
    "太原",
    "兰州",
    "乌鲁木齐",
    "呼和浩特",
    "银川",
    "西宁",
    "拉萨",
    "宝安区",
    "龙岗区",
)
PUNCT = "，，，。、；"
TAG_RULES = (("转接", "组织关系转接"), ("党费", "党费缴纳"), ("证明", "证明材料"), ("活动证", "组织生活"))
RULE_CHARS = "龘靐齉爩鱻麤龖厵灥癵驫鸞籲蠻纞鬱灩靉龗齾"  # rare: the other rules exist but seldom fire


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bulk(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(model), rows[start : start + 5000])


def dictionary_words(rng: random.Random, n: int = 3000) -> list[str]:
    """Ordinary Chinese words from jieba's dictionary: a vocabulary far wider than the fragments."""
    import jieba

    path = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            word, freq, _tag = line.split(" ")
            if 2 <= len(word) <= 4 and 200 <= int(freq) <= 20000 and all("\u4e00" <= c <= "\u9fff" for c in word):
                words.append(word)
    return rng.sample(words, min(n, len(words)))


class Texts:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.words = dictionary_words(rng)

    def sentence(self) -> str:
        r = self.rng
        parts = [r.choice(SUBJECTS), r.choice(TIMES), "在", r.choice(PLACES), r.choice(ACTIONS)]
        parts += [r.choice(TOPICS_OF_TEXT), r.choice(OBJECTS), r.choice(PUNCT)]
        if r.random() < 0.6:
            parts += [r.choice(REMARKS), r.choice(PUNCT)]
        for _ in range(r.randint(1, 4)):
            parts += [r.choice(self.words), r.choice(("的", "和", "", "也", "还有", "，"))]
        parts.append(r.choice(QUESTIONS))
        return "".join(parts)

    def text(self, sentences: tuple[int, int] = (1, 3)) -> str:
        return "".join(self.sentence() for _ in range(self.rng.randint(*sentences)))


def generate(rng: random.Random, texts: Texts) -> dict:
    now = datetime.now(UTC)
    old = now - timedelta(days=400)
    bulk(Branch, [{"id": 1, "name": "县委组织部", "kind": "committee", "parent_id": None, "created_at": old}])
    bulk(
        Branch,
        [
            {"id": b, "name": f"第{b}支部", "kind": "branch", "parent_id": 1, "created_at": old}
            for b in range(2, BRANCHES + 2)
        ],
    )
    password_hash = generate_password_hash(PASSWORD)
    members = AUTHORS + FILERS
    bulk(
        User,
        [
            {
                "id": i,
                "username": f"m{i}",
                "username_key": f"m{i}",
                "display_name": f"党员{i}",
                "password_hash": password_hash,
                "branch_id": 2 + i % BRANCHES,
                "status": "active",
                "created_at": old,
            }
            for i in range(1, members + 1)
        ],
    )
    roles = [{"user_id": i, "role": Role.member.value, "scope_branch_id": None} for i in range(1, members + 1)]
    # Two handlers (a secretary and a moderator) for each organisation the routes name.
    for n, branch in enumerate((1, 2, 3, 4, 5)):
        roles.append({"user_id": 1 + 2 * n, "role": Role.branch_secretary.value, "scope_branch_id": branch})
        roles.append({"user_id": 2 + 2 * n, "role": Role.moderator.value, "scope_branch_id": branch})
    roles.append({"user_id": 99, "role": Role.admin.value, "scope_branch_id": None})
    bulk(UserRole, roles)
    routes = [
        (None, "", 1, False),
        ("transfer", "", None, True),
        (None, "44", 2, False),
        (None, "4403", 3, False),
        ("dues", "33", 4, False),
        (None, "31", 5, False),
    ]
    bulk(
        HelpRoute,
        [
            {
                "category": c,
                "region_prefix": p,
                "target_branch_id": b,
                "to_home_branch": h,
                "note": "",
                "created_at": old,
            }
            for c, p, b, h in routes
        ],
    )
    words = sorted({"".join(rng.sample(RULE_CHARS, rng.randint(2, 3))) for _ in range(RULES * 3)})
    rules = [(w, ("block", "review", "censor", "flag")[n % 4], "") for n, w in enumerate(words[: RULES - 4])]
    rules += [(w, "tag", category) for w, category in TAG_RULES]
    bulk(
        ModerationRule,
        [
            {
                "word": w,
                "pattern": normalise_text(w),
                "action": action,
                "scope": ("all", "help")[n % 2],
                "category": category,
                "enabled": True,
                "hits": 0,
                "created_at": old,
                "updated_at": old,
            }
            for n, (w, action, category) in enumerate(rules)
        ],
    )
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
                "topic_count": TOPICS // BOARDS,
                "post_count": 0,
                "created_at": old,
            }
            for b in range(1, BOARDS + 1)
        ],
    )
    leaves = sorted(code for code, region in regions.table().by_code.items() if region.leaf)
    leaves = rng.sample(leaves, 300)
    n_posts = DOCS * 7 // 10
    n_requests = DOCS - n_posts
    start = now - timedelta(days=DAYS)
    post_times = sorted(start + timedelta(seconds=rng.uniform(0, DAYS * 86400 - 3600)) for _ in range(n_posts))
    topics, posts = [], []
    for t in range(1, TOPICS + 1):
        topics.append(
            {
                "id": t,
                "board_id": 1 + t % BOARDS,
                "author_id": rng.randint(1, AUTHORS),
                "title": texts.sentence()[:40],
                "kind": "discussion",
                "state": "published",
                "pinned": False,
                "locked": False,
                "reply_count": 0,
                "like_count": 0,
                "last_post_at": now,
                "created_at": start,
            }
        )
    for pid, at in enumerate(post_times, start=1):
        body = texts.text()
        posts.append(
            {
                "id": pid,
                "topic_id": pid if pid <= TOPICS else rng.randint(1, TOPICS),
                "author_id": rng.randint(1, AUTHORS),
                "body": body,
                "body_html": f"<p>{body}</p>",
                # A few hidden ones, as a real forum has: they must not count.
                "state": "deleted" if rng.random() < 0.02 else "published",
                "content_hash": hashlib.sha256(str(pid).encode()).hexdigest(),
                "like_count": 0,
                "flag_count": 0,
                "edit_count": 0,
                "created_at": at,
            }
        )
    bulk(Topic, topics)
    bulk(Post, posts)
    db.session.execute(update(Topic), [{"id": t, "first_post_id": t, "last_post_id": t} for t in range(1, TOPICS + 1)])
    request_rows = []
    statuses = ("pending", "in_progress", "answered", "resolved", "closed")
    for rid in range(1, n_requests + 1):
        at = start + timedelta(seconds=rng.uniform(0, DAYS * 86400 - 3600))
        text = texts.text((1, 2))
        status = rng.choice(statuses)
        answered = status != "pending" and rng.random() < 0.9
        request_rows.append(
            {
                "id": rid,
                "requester_id": rng.randint(1, AUTHORS),
                "home_branch_id": 2 + rid % BRANCHES,
                "category": rng.choice(("transfer", "find_branch", "dues", "certificate", "org_life", "other")),
                "region_code": rng.choice(leaves),
                "title": text[:30],
                "description": text,
                "content_hash": hashlib.sha256(text.encode()).hexdigest(),
                "status": status,
                "held": rng.random() < 0.01,
                "handling_branch_id": rng.randint(1, 5),
                "created_at": at,
                "updated_at": at,
                "due_at": at + timedelta(days=4),
                "first_answer_at": at + timedelta(hours=rng.uniform(1, 120)) if answered else None,
                "reopen_count": 0,
                "rating_comment": "",
            }
        )
    request_rows.sort(key=lambda row: row["created_at"])
    for rid, row in enumerate(request_rows, start=1):
        row["id"] = rid
    bulk(HelpRequest, request_rows)
    db.session.commit()
    note(f"  {members} members, {TOPICS} topics, {n_posts} posts, {n_requests} requests, {len(rules)} rules")
    return {"posts": n_posts, "requests": n_requests, "leaves": leaves}


def add_new_texts(rng: random.Random, texts: Texts, ids: dict, n: int) -> None:
    """`n` texts arriving now (half posts, half requests), inserted directly: not what is measured."""
    now = datetime.now(UTC)
    next_post = db.session.scalar(select(func.max(Post.id))) + 1
    next_request = db.session.scalar(select(func.max(HelpRequest.id))) + 1
    posts, requests = [], []
    for i in range(n):
        text = texts.text()
        if i % 2:
            posts.append(
                {
                    "id": next_post + i,
                    "topic_id": rng.randint(1, TOPICS),
                    "author_id": rng.randint(1, AUTHORS),
                    "body": text,
                    "body_html": f"<p>{text}</p>",
                    "state": "published",
                    "content_hash": hashlib.sha256(text.encode()).hexdigest(),
                    "created_at": now,
                }
            )
        else:
            requests.append(
                {
                    "id": next_request + i,
                    "requester_id": rng.randint(1, AUTHORS),
                    "category": "other",
                    "region_code": rng.choice(ids["leaves"]),
                    "title": text[:30],
                    "description": text,
                    "content_hash": hashlib.sha256(text.encode()).hexdigest(),
                    "status": "pending",
                    "held": False,
                    "created_at": now,
                    "updated_at": now,
                    "due_at": now + timedelta(days=4),
                }
            )
    bulk(Post, posts)
    bulk(HelpRequest, requests)
    db.session.commit()


def p50(run: Callable[[int], object], rounds: int, warmup: int = 5) -> float:
    """Median milliseconds of ``run(i)`` over `rounds` calls, after a few unmeasured ones."""
    for i in range(warmup):
        run(rounds + i)
    times = []
    for i in range(rounds):
        started = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure_hot(rng: random.Random, texts: Texts, ids: dict) -> None:
    started = time.perf_counter()
    with atomic():
        done = hot.ingest()
    elapsed = time.perf_counter() - started
    note(f"  ingested {done} texts in {elapsed:.1f} s")
    print(f"helpdesk.hot_topics_ingest.docs_per_second = {done / elapsed:.0f} docs/s", flush=True)

    add_new_texts(rng, texts, ids, NEW_DOCS)
    started = time.perf_counter()
    with atomic():
        topics = hot.hot_topics(30)
    print(f"helpdesk.hot_topics_30d.seconds = {time.perf_counter() - started:.2f} s", flush=True)
    rows = db.session.scalar(select(func.count()).select_from(HotDocTerms))
    note(f"  {rows} documents ingested; top 10: " + " ".join(f"{t.term}({t.count}{t.arrow})" for t in topics[:10]))

    times = []
    for _ in range(20):
        started = time.perf_counter()
        with atomic():
            again = hot.hot_topics(30)
        times.append((time.perf_counter() - started) * 1000)
    assert again == topics, "the cached ranking differs"
    print(f"helpdesk.hot_topics_cached.ms = {statistics.median(times):.2f} ms", flush=True)


def measure_file_request(app, texts: Texts, ids: dict) -> None:
    try:
        from forum.helpdesk import requests as services
    except ImportError:
        note("forum.helpdesk.requests does not exist yet: filing is not measured")
        return
    leaves = ids["leaves"]
    categories = ("transfer", "find_branch", "dues", "certificate", "org_life", "other")
    with app.test_request_context():

        def file_one(i: int) -> None:
            with atomic():
                actor = db.session.get(User, AUTHORS + 1 + i)  # a different member each time (5 a day)
                services.file_request(
                    actor, categories[i % 6], leaves[i % len(leaves)], f"{texts.text((1, 2))}（第{i}条）"
                )

        print(f"helpdesk.file_request.p50 = {p50(file_one, ROUNDS):.2f} ms", flush=True)


def main() -> None:
    rng = random.Random(9)
    texts = Texts(rng)
    with tempfile.TemporaryDirectory(prefix="dangxiao-bench-") as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "INSTANCE_PATH": tmp,
                "MEDIA_ROOT": os.path.join(tmp, "media"),
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            note(f"migrating and generating {DOCS} texts …")
            started = time.perf_counter()
            upgrade()
            ids = generate(rng, texts)
            note(f"  generated in {time.perf_counter() - started:.0f} s")
            print(f"helpdesk.texts = {ids['posts'] + ids['requests']} count", flush=True)
            measure_hot(rng, texts, ids)
        measure_file_request(app, texts, ids)


if __name__ == "__main__":
    main()
