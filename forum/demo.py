"""Demo forum for `seed-demo`: the five boards, moderation rules, and threads by the demo users.

Idempotent: boards and rules are found before they are created, and a thread is written
only if its board has no topic of that title yet (so running it again adds nothing).
Content goes through the real services (posting, likes, accepted answers, pinning) as the
demo users, so counters, notifications and the review queue are what a live forum has;
afterwards each post is dated back over the past weeks. That dating is also what keeps
the services' rate limits and duplicate checks quiet: they count recent posts only.

Run after ``dangxiao.demo.seed_demo`` (the users and branches).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from dangxiao.accounts import services as accounts
from dangxiao.accounts.models import User
from dangxiao.db_types import utcnow
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from forum import board_admin, limits, posting
from forum.models import Board, Post, PostState, Topic
from forum.moderation import rules
from forum.moderation.models import ModerationRule, ReviewItem

MODERATOR = "moderator"

# (name, description, read access, post access)
BOARDS = [
    ("时政信息", "上级精神、政策文件和本县党建工作通知，由版主发布。", "public", "moderators"),
    ("组织建设", "支部建设、换届选举、发展党员、党费管理等组织工作的交流与答疑。", "members", "members"),
    ("学习心得", "“三会一课”、主题党日、网上党校课程的学习体会。", "members", "members"),
    ("留言板", "对网站和党建工作的意见建议，访客也能看到。", "public", "members"),
    ("流动党员之家", "外出务工经商的流动党员互帮互助：组织关系、活动证、异地参加组织生活。", "members", "members"),
]

# (word, action, scope): what a county's moderators start with; 代考证 must not trip 代考.
RULES = [
    ("代考", "block", "all"),
    ("代考证", "allow", "all"),
    ("办证", "block", "all"),
    ("刷单", "block", "all"),
    ("加微信", "review", "forum"),
    ("兼职", "review", "forum"),
    ("投资理财", "flag", "forum"),
    ("狗屁", "censor", "all"),
]


@dataclass
class Reply:
    author: str
    body: str
    hours: float  # after the topic was opened
    likes: tuple[str, ...] = ()
    accepted: bool = False


@dataclass
class Thread:
    board: str
    author: str
    title: str
    body: str
    days_ago: float
    replies: list[Reply] = field(default_factory=list)
    kind: str = "discussion"
    pinned: bool = False
    likes: tuple[str, ...] = ()


THREADS = [
    Thread(
        "时政信息",
        MODERATOR,
        "关于做好2026年度党员教育培训工作的通知",
        "各基层党组织：\n\n根据县委组织部年度工作安排，现将2026年度党员教育培训有关事项通知如下：\n\n"
        "1. **网上党校必修课**《学习贯彻党的二十大精神》须在 12 月 20 日前完成全部课时；\n"
        "2. 各支部每季度至少组织一次集中学习，并在“三会一课”记录中登记；\n"
        "3. 流动党员可通过网上党校和本论坛“流动党员之家”版块参加学习，所在支部要做好联系。\n\n"
        "请各支部书记认真组织落实。有问题请在“组织建设”版块留言。",
        24,
        [
            Reply(
                "admin",
                "补充说明：网上党校的学习进度每天自动统计，支部书记可以在“学习统计”页面查看本支部党员的完成情况。",
                3,
            ),
            Reply(
                MODERATOR,
                "提醒：11 月底前未完成必修课的党员，系统会发送通知提醒，请大家合理安排学习时间。",
                96,
            ),
        ],
        pinned=True,
        likes=("zhangsan", "lisi", "secretary"),
    ),
    Thread(
        "组织建设",
        "secretary",
        "支部换届选举前要做哪些准备？",
        "我们东街村党支部今年到届，准备下个月换届。想请教一下：\n\n"
        "- 换届前是不是要先向上级党组织请示？\n- 候选人预备人选怎么产生？\n\n有经验的同志请指点一下。",
        20,
        [
            Reply(
                MODERATOR,
                "按照《中国共产党基层组织选举工作条例》，支部换届要先向上级党组织书面请示，批复后再召开党员大会。"
                "候选人预备人选要在广泛征求党员意见的基础上，由支委会提出，报上级党组织审查。",
                2,
                likes=("secretary", "zhangsan"),
            ),
            Reply("zhangsan", "我们去年换届时，上级批复大概用了一周，书记要留足时间。", 5),
            Reply("lisi", "西街村的经验：提前把党员名册核对一遍，特别是流动党员，选举时要确保应到人数算准确。", 8),
            Reply("secretary", "谢谢大家，已经按程序写好请示报城关镇党总支了。", 30),
        ],
    ),
    Thread(
        "组织建设",
        "wangwu",
        "党费交纳基数每年什么时候核定？",
        "我的工资今年有调整，党费是不是要重新算？每年什么时候核定一次？",
        16,
        [
            Reply(
                "secretary",
                "党员交纳党费的工资基数每年核定一次，一般在年初。工资有变化的，核定后按新的基数交纳。",
                1.5,
                accepted=True,
                likes=("wangwu",),
            ),
            Reply(MODERATOR, "补充：具体比例可以查看网上党校《基层党支部工作实务》第三讲“党费收缴与管理”。", 3),
            Reply("wangwu", "明白了，谢谢书记！", 4),
        ],
        kind="question",
    ),
    Thread(
        "学习心得",
        "zhangsan",
        "“三会一课”怎样开才不走过场——东街村支部的几点做法",
        "这两年我们支部在“三会一课”上做了些尝试，和大家交流一下：\n\n"
        "1. **会前征题**：支委会提前一周在群里征集议题，党员关心什么就议什么；\n"
        "2. **党课轮讲**：书记讲、党员讲、请老党员讲，每次不超过 40 分钟；\n"
        "3. **会后跟进**：会上定的事，下次会议先通报落实情况。\n\n"
        "效果是到会率比以前高了，发言也多了。",
        14,
        [
            Reply("secretary", "会后跟进这一条很重要，不然开完会就散了，大家觉得没意思。", 2, likes=("zhangsan",)),
            Reply("lisi", "党课轮讲我们也想试试，老党员讲入党经历特别打动人。", 5),
            Reply("wangwu", "茶园村党员居住分散，我们把党小组会放在合作社，干完活就开，效果也不错。", 20),
            Reply(MODERATOR, "总结得很实在，建议其他支部参考。@secretary 可以在全镇支部书记会上推广一下。", 26),
            Reply("zhangsan", "谢谢版主，下一步我们准备把会议记录也规范一下。", 30),
        ],
        likes=("lisi", "wangwu", "secretary", "moderator"),
    ),
    Thread(
        "学习心得",
        "wangwu",
        "主题党日活动：走进茶园合作社",
        "上周六，茶园村党支部的主题党日活动放在了村茶叶合作社。上午重温入党誓词，学习中央一号文件；"
        "下午党员分组到茶园帮助采茶、给困难户送去慰问品。大家说这样的主题党日“接地气、有收获”。",
        10,
        [
            Reply("zhangsan", "学习和为群众办实事结合起来，这个形式好。", 3),
            Reply("sunqi", "在外地看到家乡的照片很亲切，明年回去一定参加。", 6),
            Reply("secretary", "建议把活动方案整理一下，发到组织建设版块，给其他支部做参考。", 9),
            Reply("wangwu", "好的，整理好就发。", 10),
        ],
        likes=("sunqi", "zhangsan"),
    ),
    Thread(
        "学习心得",
        "lisi",
        "学习《基层党支部工作实务》课程的体会",
        "最近在网上党校学完了《基层党支部工作实务》。体会最深的是第一讲：“三会一课”的关键在于质量，"
        "不在于次数。以前觉得开会就是完成任务，现在明白了会议要解决实际问题。第二讲主题党日活动设计，"
        "讲到要“小切口、接地气”，对我们村很有启发。",
        7,
        [
            Reply("zhangsan", "这门课我也在学，第三讲党费管理讲得很细。", 4),
            Reply(MODERATOR, "学以致用最重要，欢迎把课程里的做法用到支部工作中，再回来分享效果。", 8),
            Reply("zhaoliu", "在深圳也能用手机听课，很方便，课程视频在工地休息时就能看。", 30),
        ],
        likes=("zhaoliu", "moderator"),
    ),
    Thread(
        "学习心得",
        "sunqi",
        "重温入党誓词，再学党章有感",
        "在杭州参加了当地流动党员党支部组织的重温入党誓词活动。举起右拳的那一刻，想起了十年前入党时的情景。"
        "党章要常学常新，不管走到哪里，党员身份不能忘。",
        5,
        [
            Reply("zhaoliu", "同感！在外面更要记住自己是党员。", 2),
            Reply("lisi", "网上党校有《中国共产党章程》逐章学习的课程，推荐大家学一学。", 6),
            Reply("wangwu", "说得好，不管在哪里都要发挥先锋模范作用。", 12),
        ],
        likes=("zhaoliu",),
    ),
    Thread(
        "留言板",
        "wangwu",
        "网上党校的视频在手机上能不能调低清晰度？",
        "村里信号不太好，用手机看课程视频有时候会卡。能不能选择低一点的清晰度？",
        12,
        [
            Reply(
                "admin", "播放器会根据网速自动切换清晰度。信号差的时候稍等几秒就会降到流畅档，也可以先暂停缓冲一下。", 5
            ),
            Reply("wangwu", "试了一下，确实会自动变流畅，谢谢！", 8),
            Reply("sunqi", "在出租屋用宽带看没问题，建议大家连 Wi-Fi 学习省流量。", 20),
        ],
    ),
    Thread(
        "流动党员之家",
        "zhaoliu",
        "在深圳务工，组织关系要不要转过去？流动党员活动证怎么办理？",
        "我是青山乡流动党员党支部的党员，今年在深圳宝安区的工厂上班，估计要干两三年。想问：\n\n"
        "1. 组织关系需要转到深圳吗？\n2. 流动党员活动证在哪里办，过期了怎么换？",
        9,
        [
            Reply(
                MODERATOR,
                "@zhaoliu 你好！\n\n1. 外出时间较长、工作和居住相对稳定的，一般应把组织关系转到工作地党组织；"
                "暂时不稳定的，可以保留在原支部，持《流动党员活动证》在流入地参加组织生活。\n"
                "2. 活动证由流出地党组织（你所在的青山乡流动党员党支部）发放，有效期届满前向支部申请换发即可，"
                "可以委托家人代办或通过支部书记远程办理。\n\n到深圳后记得主动和流入地党组织联系。",
                3,
                accepted=True,
                likes=("zhaoliu", "sunqi"),
            ),
            Reply("sunqi", "我去年在杭州就是持活动证参加当地流动党员支部活动的，手续很方便。", 6),
            Reply("zhaoliu", "明白了，谢谢版主！我先联系支部换发活动证，稳定以后再转组织关系。", 8),
            Reply("secretary", "流入地党组织联系方式可以问当地街道党工委，一般都有流动党员服务站。", 30),
        ],
        kind="question",
    ),
    Thread(
        "流动党员之家",
        "sunqi",
        "在外地怎么参加支部的“三会一课”？",
        "人在杭州，回不去参加支部的会议，有没有办法参加？会不会影响评议？",
        4,
        [
            Reply(
                MODERATOR,
                "可以两头参加：在流入地参加当地党组织的组织生活，同时通过网上党校学习支部布置的内容。"
                "支部开会时也可以通过视频参会，年底民主评议时流入地党组织会提供你的表现情况。",
                2,
                accepted=True,
            ),
            Reply("zhaoliu", "我们支部每月开会都开视频，在深圳也能听。", 5),
            Reply("sunqi", "好的，我跟支部书记说一下，下次开会开视频。", 7),
        ],
        kind="question",
    ),
]

# A member's reply that the rules hold for review, so the moderator's queue has work in it.
HELD = Reply(
    "wangwu",
    "今年合作社的明前茶已经上市了，需要的同志可以加微信联系我，给大家优惠。",
    30,
)
HELD_IN = "主题党日活动：走进茶园合作社"


def _seed_boards(moderator: User | None) -> tuple[dict[str, Board], int]:
    by_name: dict[str, Board] = {}
    created = 0
    for name, description, read, post in BOARDS:
        board = db.session.scalar(select(Board).where(Board.name == name))
        if board is None:
            board = board_admin.create_board(
                SYSTEM, name=name, description=description, read_access=read, post_access=post
            )
            if moderator is not None:
                board_admin.set_moderators(SYSTEM, board.id, [(moderator.id, None)])
            created += 1
        by_name[name] = board
    return by_name, created


def _seed_rules() -> int:
    added = 0
    for word, action, scope in RULES:
        exists = select(ModerationRule.id).where(
            ModerationRule.word == word, ModerationRule.action == action, ModerationRule.scope == scope
        )
        if db.session.scalar(exists.limit(1)) is None:
            rules.add_rule(SYSTEM, word, action, scope)
            added += 1
    return added


def _dated(post: Post, at: datetime) -> None:
    """Date a post (and a topic's first post, the topic) back; the counters are redone at the end."""
    post.created_at = at
    if post.topic.first_post_id == post.id:
        post.topic.created_at = at
    db.session.flush()


def _like(users: dict[str, User], names: tuple[str, ...], post: Post) -> None:
    from forum import reactions

    for name in names:
        if name in users and users[name].id != post.author_id:
            reactions.toggle_like(users[name], post)


def _seed_thread(thread: Thread, board: Board, users: dict[str, User], now: datetime) -> Topic:
    from forum import reactions, topic_admin

    opened = now - timedelta(days=thread.days_ago)
    opener = posting.create_topic(users[thread.author], board, thread.title, thread.body, kind=thread.kind)
    topic = opener.topic
    _dated(opener, opened)
    _like(users, thread.likes, opener)
    for spec in thread.replies:
        post = posting.reply(users[spec.author], topic, spec.body)
        _dated(post, opened + timedelta(hours=spec.hours))
        _like(users, spec.likes, post)
        if spec.accepted:
            reactions.accept_answer(users[thread.author], post)
    if thread.title == HELD_IN and HELD.author in users:
        held = posting.reply(users[HELD.author], topic, HELD.body)
        _dated(held, opened + timedelta(hours=HELD.hours))
        item = db.session.scalar(select(ReviewItem).where(ReviewItem.kind == "post", ReviewItem.object_id == held.id))
        if item is not None:
            item.created_at = held.created_at
    if thread.pinned:
        topic_admin.set_pinned(users[MODERATOR], topic, True)
    return topic


def _recount_dates(topics: list[Topic]) -> None:
    """The services stamped "now" as last activity; take it from the dated posts instead."""
    for topic in topics:
        last = db.session.get(Post, topic.last_post_id) if topic.last_post_id else None
        if last is not None:
            topic.last_post_at = last.created_at
    db.session.flush()
    for board_id in {t.board_id for t in topics}:
        board = db.session.get(Board, board_id)
        board.last_post_at = db.session.scalar(
            select(func.max(Topic.last_post_at)).where(Topic.board_id == board_id, Topic.state == PostState.published)
        )
    db.session.flush()


def seed_forum() -> list[str]:
    """Create the demo boards, rules and threads that are missing; returns lines to print."""
    lines = ["党建论坛演示内容："]
    with atomic():
        users = {name: user for name in _usernames() if (user := accounts.find_user(name)) is not None}
        boards, created = _seed_boards(users.get(MODERATOR))
        lines.append(f"  版块 {len(boards)} 个（新建 {created} 个），版主：{MODERATOR}")
        lines.append(f"  敏感词规则新增 {_seed_rules()} 条")
        missing = sorted(set(_usernames()) - set(users))
        if missing:
            lines.append(f"  （缺少演示账号 {'、'.join(missing)}：先运行 seed-demo 创建账号，帖子暂不生成）")
            return lines
        now = utcnow()
        written: list[Topic] = []
        for thread in THREADS:
            board = boards[thread.board]
            title = limits.clean_title(thread.title)  # compared as stored, after the same cleaning
            exists = select(Topic.id).where(Topic.board_id == board.id, Topic.title == title)
            if db.session.scalar(exists.limit(1)) is None:
                written.append(_seed_thread(thread, board, users, now))
        _recount_dates(written)
        lines.append(f"  新增主题 {len(written)} 个（共 {len(THREADS)} 个演示主题）")
        if any(t.title == limits.clean_title(HELD_IN) for t in written):
            lines.append(f"  {HELD.author} 的一条回复含“加微信”，已进入审核队列，可用 {MODERATOR} 登录处理")
    return lines


def _usernames() -> list[str]:
    names = {MODERATOR, "admin", HELD.author}
    for thread in THREADS:
        names.add(thread.author)
        names.update(r.author for r in thread.replies)
        names.update(thread.likes)
        for r in thread.replies:
            names.update(r.likes)
    return sorted(names)
