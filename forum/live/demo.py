"""Demo 在线答疑 for `seed-demo`: one session live now, one scheduled, one closed and archived.

Idempotent: a session is found by its title before it is made, so running it again adds
nothing. The live session is built through the real services (create, start, ask, approve,
vote, highlight, answer) as the demo users, so its event log is what a real session writes
and a page opened on it can resync. The closed session's questions are history: written as
rows dated last week, then the session is closed through the service, which archives them
into a forum topic that is dated back with it.

Run after ``dangxiao.demo.seed_demo`` (users, branches) and ``forum.demo.seed_forum`` (boards).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from dangxiao.accounts import services as accounts
from dangxiao.accounts.models import Branch, User
from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.markup import render_for_app
from dangxiao.templating import localtime
from dangxiao.transactions import atomic
from forum.live import questions, sessions
from forum.live.models import LiveQuestion, LiveSession, QuestionStatus
from forum.models import Board, Post, PostState, Topic

SECRETARY, MODERATOR = "secretary", "moderator"
LIVE_TITLE = "“三会一课”专题学习答疑"
SCHEDULED_TITLE = "城关镇党总支发展党员工作答疑"
CLOSED_TITLE = "党费交纳与流动党员管理答疑"
LIVE_BOARD, ARCHIVE_BOARD, BRANCH = "学习心得", "组织建设", "城关镇党总支"
INPUT = "%Y-%m-%dT%H:%M"


@dataclass
class Asked:
    author: str
    text: str
    anonymous: bool = False
    outcome: str = "pending"  # pending / approved / answered
    answer: str = ""
    voters: tuple[str, ...] = ()


LIVE_QUESTIONS = [
    Asked(
        "zhangsan",
        "支部委员会会议一般多长时间开一次？需要做会议记录吗？",
        outcome="answered",
        answer="支部委员会会议一般每月召开一次，必要时随时召开；要有专人记录，记录本由支部统一保管。",
        voters=("lisi", "wangwu", "zhaoliu"),
    ),
    Asked(
        "zhaoliu",
        "在外地务工不能回村参加党员大会，可以线上参加吗？",
        anonymous=True,
        outcome="approved",
        voters=("sunqi", "zhangsan", "lisi", "wangwu"),
    ),
    Asked("lisi", "党小组会和主题党日可以合并开展吗？", outcome="approved", voters=("zhangsan",)),
    Asked("wangwu", "茶园合作社的党员能不能单独成立一个党小组？"),
]

CLOSED_QUESTIONS = [
    Asked(
        "sunqi",
        "流动党员在外地可以按月交党费吗？",
        outcome="answered",
        answer="可以。流动党员可以通过“党费通”等线上渠道按月交纳，也可以委托所在支部代交，回来后补交记录。",
        voters=("zhaoliu", "zhangsan", "lisi", "wangwu"),
    ),
    Asked(
        "zhangsan",
        "退休党员的党费按什么基数计算？",
        anonymous=True,
        outcome="answered",
        answer="以本人退休费总额为计算基数：5000 元以下（含）交纳 0.5%，5000 元以上交纳 1%。",
        voters=("lisi",),
    ),
    Asked("wangwu", "党费收据丢了怎么办？", outcome="approved"),
]


def _local(at: datetime) -> str:
    return localtime(at, INPUT)


def _session(title: str) -> LiveSession | None:
    return db.session.scalar(select(LiveSession).where(LiveSession.title == title).limit(1))


def _fields(board: Board, title: str, description: str, starts: datetime, ends: datetime, **extra: Any) -> dict:
    return {
        "title": title,
        "description": description,
        "hosts": MODERATOR,
        "board_id": board.id,
        "starts_at": _local(starts),
        "ends_at": _local(ends),
        **extra,
    }


def _seed_live(users: dict[str, User], board: Board, now: datetime) -> None:
    host = users[SECRETARY]
    session = sessions.create_session(
        host,
        **_fields(
            board,
            LIVE_TITLE,
            "结合本月“三会一课”学习内容，解答支部组织生活中的常见问题。提问经主持人审核后显示，可为关心的问题投票。",
            now - timedelta(minutes=20),
            now + timedelta(minutes=70),
            allow_anonymous=True,
            moderation="approve_all",
            audience="members",
        ),
    )
    sessions.start(host, session.id)
    asked: list[tuple[Asked, LiveQuestion]] = []
    for spec in LIVE_QUESTIONS:
        asked.append((spec, questions.ask(users[spec.author], session.id, spec.text, anonymous=spec.anonymous)))
    for spec, q in asked:
        if spec.outcome in ("approved", "answered"):
            questions.approve(host, q.id)
    for spec, q in asked:
        for voter in spec.voters:
            questions.vote(users[voter], q.id)
    for spec, q in asked:
        if spec.outcome == "answered":
            questions.answer(host, q.id, spec.answer)
    top = next(q for spec, q in asked if spec.outcome == "approved")
    questions.highlight(host, top.id)


def _seed_scheduled(users: dict[str, User], board: Board, branch: Branch | None, now: datetime) -> None:
    starts = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    branch_only = {"audience": "branch", "branch_id": branch.id} if branch is not None else {"audience": "members"}
    sessions.create_session(
        users[SECRETARY],
        **_fields(
            board,
            SCHEDULED_TITLE,
            "入党申请、积极分子培养、发展对象考察中的问题，会前可先在论坛“组织建设”版块留言。",
            starts,
            starts + timedelta(hours=1),
            moderation="auto",
            **branch_only,
        ),
    )


def _seed_closed(users: dict[str, User], board: Board, now: datetime) -> None:
    host = users[SECRETARY]
    started = now - timedelta(days=6, hours=3)
    session = sessions.create_session(
        host,
        **_fields(
            board,
            CLOSED_TITLE,
            "党费交纳标准、线上交纳和流动党员党费管理。",
            started,
            started + timedelta(hours=1),
            allow_anonymous=True,
        ),
    )
    for n, spec in enumerate(CLOSED_QUESTIONS):
        asked_at = started + timedelta(minutes=5 + 8 * n)
        answered = spec.outcome == "answered"
        db.session.add(
            LiveQuestion(
                session_id=session.id,
                author_id=users[spec.author].id,
                anonymous=spec.anonymous,
                text=spec.text,
                status=QuestionStatus(spec.outcome),
                votes=len(spec.voters),
                answer=spec.answer,
                answered_by_id=host.id if answered else None,
                moderated_by_id=host.id,
                created_at=asked_at,
                approved_at=asked_at + timedelta(minutes=1),
                answered_at=asked_at + timedelta(minutes=6) if answered else None,
            )
        )
    db.session.flush()
    closed = sessions.close(host, session.id)
    ended = started + timedelta(hours=1)
    closed_now = localtime(session.closed_at)
    session.started_at, session.closed_at = started, ended
    if closed.topic_id is not None:  # dated with the session, like the forum demo's threads
        topic = db.session.get(Topic, closed.topic_id)
        topic.created_at = topic.last_post_at = ended
        post = db.session.get(Post, topic.first_post_id)
        post.created_at = ended
        post.body = post.body.replace(closed_now, localtime(ended), 1)  # the header says when it ended
        post.body_html = render_for_app(post.body)
        latest = select(func.max(Topic.last_post_at)).where(
            Topic.board_id == board.id, Topic.state == PostState.published
        )
        board.last_post_at = db.session.scalar(latest)
    db.session.flush()


def seed_live() -> list[str]:
    """Create the demo sessions that are missing; returns the lines to print."""
    lines = ["在线答疑演示内容："]
    names = {SECRETARY, MODERATOR} | {a.author for a in LIVE_QUESTIONS + CLOSED_QUESTIONS}
    names |= {v for a in LIVE_QUESTIONS + CLOSED_QUESTIONS for v in a.voters}
    with atomic():
        users = {name: user for name in sorted(names) if (user := accounts.find_user(name)) is not None}
        boards = {
            b.name: b for b in db.session.scalars(select(Board).where(Board.name.in_([LIVE_BOARD, ARCHIVE_BOARD])))
        }
    missing = sorted(names - set(users))
    if missing or len(boards) < 2:
        lines.append("  （缺少演示账号或论坛版块：先运行 seed-demo 的账号和论坛部分，答疑暂不生成）")
        return lines
    now = utcnow()
    made = 0
    with atomic():
        if _session(LIVE_TITLE) is None:
            _seed_live(users, boards[LIVE_BOARD], now)
            made += 1
    with atomic():
        if _session(SCHEDULED_TITLE) is None:
            branch = db.session.scalar(select(Branch).where(Branch.name == BRANCH).limit(1))
            _seed_scheduled(users, boards[ARCHIVE_BOARD], branch, now)
            made += 1
    with atomic():
        if _session(CLOSED_TITLE) is None:
            _seed_closed(users, boards[LIVE_BOARD], now)
            made += 1
    lines.append(f"  新增答疑 {made} 场（进行中、即将开始、已结束各一场），主持人：{SECRETARY}、{MODERATOR}")
    lines.append(f"  进行中的“{LIVE_TITLE}”有一条待审核提问，可用 {SECRETARY} 登录主持台处理")
    return lines
