"""Demo help desk for `seed-demo`: FAQ entries, handlers, routes, tag rules and requests in every state.

Idempotent: each thing is found before it is created (templates by title, branches and
accounts by name, routes by category and region, rules by word, requests by requester and
text), so running it again adds nothing. Requests are built from the models directly, not
through the filing service, because they must be dated back (an overdue request was filed
six working days ago) and the services date everything now; they are routed with the real
routing table and get their deadline from the real SLA, as if filed then.

Run after ``dangxiao.demo.seed_demo`` (branches and the flowing members zhaoliu and sunqi).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from dangxiao.accounts import branches as branch_service
from dangxiao.accounts import services as accounts
from dangxiao.accounts.models import Branch, BranchKind, Role, User
from dangxiao.db_types import utcnow
from dangxiao.demo import DEMO_PASSWORD
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.templating import site_zone
from dangxiao.transactions import atomic
from forum import limits
from forum.helpdesk import faq, routing, sla
from forum.helpdesk import routes as route_service
from forum.helpdesk.models import (
    HelpCategory,
    HelpEvent,
    HelpMessage,
    HelpRequest,
    HelpRoute,
    HelpTemplate,
    Rating,
    RequestStatus,
)
from forum.helpdesk.requests import make_title
from forum.moderation import rules
from forum.moderation.models import ModerationRule

ROOT = "中共示范县委组织部机关党委"
SHENZHEN = "驻深圳流动党员党支部"
COUNTY_BRANCH = "县直机关第一党支部"

# (title, category, body): real procedures, written for the public FAQ; 80–250 characters each.
FAQ = [
    (
        "组织关系介绍信的有效期是多长时间？",
        HelpCategory.transfer,
        "党员组织关系介绍信的有效期一般不超过3个月，具体以介绍信上注明的期限为准。党员应在有效期内持介绍信"
        "到接收党组织报到。因特殊情况未能按期报到的，应及时与开具介绍信的党组织联系，说明原因，由其重新开具"
        "或按规定办理，不要自行涂改介绍信上的日期。",
    ),
    (
        "什么是流动党员活动证？怎样领取？",
        HelpCategory.org_life,
        "《流动党员活动证》是流动党员外出期间参加组织生活、接受教育管理的凭证，由流出地党组织发放。党员外出前"
        "应向所在党支部报告外出地点、时间和联系方式，经党支部登记后领取活动证。到达流入地后，持活动证向当地"
        "党组织报到，参加组织生活的情况由流入地党组织在证上记载，返回后交原党支部查验。",
    ),
    (
        "党员组织关系可以转到哪里？",
        HelpCategory.transfer,
        "党员组织关系一般随工作单位或居住地转接：有固定工作单位且单位建有党组织的，转入工作单位党组织；单位"
        "没有党组织或没有固定工作的，可以转入经常居住地的社区（村）党组织，或按规定转入人才服务机构等党组织。"
        "外出务工经商、暂不具备转接条件的，可以将组织关系保留在原党组织，以流动党员身份参加流入地党组织的活动。",
    ),
    (
        "组织关系转接期间，党费怎么交？",
        HelpCategory.dues,
        "组织关系转接期间，党员应继续在原党组织交纳党费，直到转接完成。原党组织会在介绍信上注明党费交到的月份，"
        "接收党组织从下一个月起收缴，不重交、不漏交。流动党员在外地期间，可以按原党支部的安排通过线上方式按月"
        "交纳党费，并保存好交纳记录，党费基数有变化时及时向党支部报告。",
    ),
    (
        "在外地怎样寻找就近的党组织？",
        HelpCategory.find_branch,
        "到达新的工作地或居住地后，可以向所在单位、社区（村）党组织或街道（乡镇）党（工）委询问，也可以联系"
        "当地县级党委组织部门，了解住处附近的党组织或流动党员党组织。在本站提交“寻找党组织”求助时，请选择现在"
        "所在的省、市、县（区），并写明工作单位或居住的社区，我们会转请当地党组织协助联系。",
    ),
    (
        "需要党员身份证明，应当找谁开具？",
        HelpCategory.certificate,
        "党员需要证明党员身份时，可以向组织关系所在的党组织提出申请，说明证明的用途和接收单位的要求。党组织"
        "核实党员档案和党员信息后出具证明并加盖公章；党支部没有公章的，由上级党组织出具。组织关系正在转接中的，"
        "一般由转出党组织出具。人在外地的，可以先与党支部联系，商定证明材料的传递方式。",
    ),
    (
        "流动党员如何参加流入地的组织生活？",
        HelpCategory.org_life,
        "流动党员到达流入地后，应主动持《流动党员活动证》向当地党组织报到，按要求参加“三会一课”、主题党日等"
        "组织生活，接受流入地党组织的教育管理。流入地党组织一般将其编入党支部或党小组，并把参加组织生活的情况"
        "反馈给流出地党组织。确有困难不能参加的，应及时向党组织说明原因。",
    ),
    (
        "能通过全国党员管理信息系统在线转接组织关系吗？",
        HelpCategory.transfer,
        "可以。党员组织关系转接可以通过全国党员管理信息系统在线办理：转出党组织在系统中发起转接，经转出、转入"
        "双方党组织审核确认后即可完成，跨省转接也可以在线进行，党员一般不必往返两地。办理前请先与转出和接收的"
        "党支部联系，确认接收党组织的名称准确；转接完成后，按要求及时到接收党组织报到。",
    ),
    (
        "党员外出务工前需要向党支部报告吗？",
        HelpCategory.other,
        "需要。党员外出打工、经商前，应向所在党支部报告外出地点、时间和联系方式。外出时间较长、地点相对固定的，"
        "应按规定转移组织关系；暂不具备转移条件的，由党支部登记为流动党员并发放《流动党员活动证》。外出期间"
        "应定期向党支部汇报思想、工作情况，按时交纳党费，参加流入地党组织的活动。",
    ),
]

# (word, category label): typing these suggests the category on the request form.
TAG_RULES = [
    ("组织关系", "组织关系转接"),
    ("转接", "组织关系转接"),
    ("介绍信", "组织关系转接"),
    ("党费", "党费缴纳"),
    ("证明", "证明材料"),
    ("组织生活", "组织生活"),
    ("三会一课", "组织生活"),
    ("主题党日", "组织生活"),
    ("找不到党组织", "寻找党组织"),
    ("就近", "寻找党组织"),
]

# (username, display name, branch, scope of the branch_secretary role)
HANDLERS = [
    ("chenshu", "陈书记", SHENZHEN, SHENZHEN),
    ("zuzhibu", "周干事", COUNTY_BRANCH, ROOT),
]

# (category or None, region prefix, target branch name, note)
ROUTES = [
    (None, "44", SHENZHEN, "在广东省的流动党员由驻深圳流动党员党支部联系服务"),
    (HelpCategory.transfer, "", ROOT, "组织关系转接由县委组织部机关党委统一办理"),
    (None, "", ROOT, "默认队列：其他地区和类别"),
]


@dataclass
class Step:
    kind: str  # accepted / answered / resolved / rated
    actor: str  # username
    hours: float  # after filing
    body: str = ""  # an answer's text


@dataclass
class DemoRequest:
    requester: str
    region: str
    category: HelpCategory
    description: str
    filed: tuple[str, float]  # ("hours", n) ago, or ("workdays", n) ago at 10:00 site time
    steps: list[Step] = field(default_factory=list)
    template: str | None = None  # title of the FAQ entry the answer came from
    rating_comment: str = ""


REQUESTS = [
    DemoRequest(
        "zhaoliu",
        "440306",
        HelpCategory.dues,
        "我现在在深圳市宝安区一家电子厂上班，组织关系还在老家青山乡流动党员党支部。请问在外地能不能在线交党费？"
        "每个月应该交多少，由谁来核定？",
        ("hours", 3),
    ),
    DemoRequest(
        "zhaoliu",
        "440306",
        HelpCategory.transfer,
        "我在宝安区工作一年多了，单位有党支部，想把组织关系从老家转过来。去年老家支部开的介绍信已经过期了，"
        "还能用吗？需要回老家重新开吗？",
        ("hours", 52),
        [
            Step("accepted", "chenshu", 5),
            Step(
                "answered",
                "chenshu",
                6,
                "赵六同志您好！组织关系介绍信的有效期一般不超过3个月，去年开具的介绍信已经过期，不能再使用。"
                "现在组织关系转接可以通过全国党员管理信息系统在线办理，您不必回老家：请先向单位党支部确认可以接收，"
                "把单位党组织的准确名称告诉我们，我们联系青山乡流动党员党支部在系统中发起转接。转接完成后请及时到"
                "单位党支部报到。",
            ),
        ],
        template="组织关系介绍信的有效期是多长时间？",
    ),
    DemoRequest(
        "zhaoliu",
        "440306",
        HelpCategory.certificate,
        "公司入职审核需要一份党员身份证明，我人在深圳回不了老家。请问可以由哪个党组织开具？需要准备什么材料？",
        ("workdays", 6),
    ),
    DemoRequest(
        "sunqi",
        "330110",
        HelpCategory.org_life,
        "我在杭州市余杭区打工，想在这边参加三会一课和主题党日，应该去哪里报到？需要带什么材料？",
        ("hours", 24 * 12),
        [
            Step("accepted", "zuzhibu", 20),
            Step(
                "answered",
                "zuzhibu",
                22,
                "孙七同志您好！请您持《流动党员活动证》到现在居住地的社区党组织或所在街道党工委报到，说明自己是"
                "外出务工的流动党员，由当地党组织安排您参加“三会一课”和主题党日等活动。如果活动证遗失，请先联系"
                "青山乡流动党员党支部补发。报到后有什么困难，可以继续在这里留言。",
            ),
            Step("resolved", "sunqi", 70),
            Step("rated", "sunqi", 70.2),
        ],
        rating_comment="回复很及时，已经在社区报到了，谢谢！",
    ),
    DemoRequest(
        "sunqi",
        "330110",
        HelpCategory.find_branch,
        "我刚搬到余杭区的一个新小区，附近找不到党组织，想就近参加活动，应该怎么联系？",
        ("hours", 20),
        [Step("accepted", "zuzhibu", 2)],
    ),
]


def seed_helpdesk() -> list[str]:
    """Create what is missing of the demo help desk; returns the lines to print."""
    lines = ["流动党员之家演示内容："]
    with atomic():
        lines.append(f"  常见问题新增 {_seed_faq()} 条（共 {len(FAQ)} 条）")
        root = _branch(ROOT, None)
        if root is None:
            lines.append("  （缺少演示组织：先运行 seed-demo 创建组织和账号，求助暂不生成）")
            return lines
        branches = {ROOT: root, SHENZHEN: _ensure_shenzhen(root)}
        branches[COUNTY_BRANCH] = _branch(COUNTY_BRANCH, root) or root
        lines.append(f"  处理人员账号（密码均为 {DEMO_PASSWORD}）：")
        for username, display, branch, scope in HANDLERS:
            user = _ensure_handler(username, display, branches[branch], branches[scope])
            labels = "、".join(r.label for r in user.roles)
            lines.append(f"    {username:<10} {display}  {labels}")
        lines.append(f"  求助路由新增 {_seed_routes(branches)} 条")
        lines.append(f"  类别标记规则新增 {_seed_rules()} 条")
        missing = [name for name in ("zhaoliu", "sunqi") if accounts.find_user(name) is None]
        if missing:
            lines.append(f"  （缺少演示账号 {'、'.join(missing)}：先运行 seed-demo 创建账号，求助暂不生成）")
            return lines
        added = sum(1 for demo in REQUESTS if _seed_request(demo))
        lines.append(
            f"  新增求助 {added} 条（共 {len(REQUESTS)} 条：待受理、处理中、已答复、已解决并评价、超期未答复）"
        )
    return lines


# --- pieces -------------------------------------------------------------------------------------


def _seed_faq() -> int:
    added = 0
    for position, (title, category, body) in enumerate(FAQ, start=1):
        if db.session.scalar(select(HelpTemplate.id).where(HelpTemplate.title == title).limit(1)) is None:
            faq.add_template(SYSTEM, title, body, category, published=True, position=position)
            added += 1
    return added


def _branch(name: str, parent: Branch | None) -> Branch | None:
    stmt = select(Branch).where(Branch.name == name)
    stmt = stmt.where(Branch.parent_id.is_(None) if parent is None else Branch.parent_id == parent.id)
    return db.session.scalar(stmt.limit(1))


def _ensure_shenzhen(root: Branch) -> Branch:
    found = _branch(SHENZHEN, root)
    if found is None:
        found = branch_service.create_branch(SYSTEM, SHENZHEN, BranchKind.branch, root.id, "440300")
    return found


def _ensure_handler(username: str, display: str, branch: Branch, scope: Branch) -> User:
    user = accounts.find_user(username)
    if user is None:
        user = accounts.create_user(
            SYSTEM,
            accounts.NewUser(username=username, password=DEMO_PASSWORD, display_name=display, branch_id=branch.id),
            roles=[(Role.member, None), (Role.branch_secretary, scope.id)],
        )
    return user


def _seed_routes(branches: dict[str, Branch]) -> int:
    added = 0
    for category, prefix, target, note in ROUTES:
        exists = select(HelpRoute.id).where(
            HelpRoute.category.is_(None) if category is None else HelpRoute.category == category,
            HelpRoute.region_prefix == prefix,
        )
        if db.session.scalar(exists.limit(1)) is None:
            route_service.add_route(SYSTEM, category, prefix, branches[target].id, False, note)
            added += 1
    return added


def _seed_rules() -> int:
    added = 0
    for word, category in TAG_RULES:
        exists = select(ModerationRule.id).where(
            ModerationRule.word == word, ModerationRule.action == "tag", ModerationRule.scope == "help"
        )
        if db.session.scalar(exists.limit(1)) is None:
            rules.add_rule(SYSTEM, word, "tag", "help", category=category)
            added += 1
    return added


def _filed_at(filed: tuple[str, float], now: datetime) -> datetime:
    unit, amount = filed
    if unit == "hours":
        return now - timedelta(hours=amount)
    # `amount` working days before today, at 10:00 site time: overdue whatever today is.
    zone = site_zone()
    day = now.astimezone(zone).date()
    counted = 0
    while counted < amount:
        day -= timedelta(days=1)
        if sla.is_working_day(day):
            counted += 1
    return datetime.combine(day, time(10, 0), tzinfo=zone).astimezone(UTC)


def _seed_request(demo: DemoRequest) -> bool:
    """File one demo request as of its date and play its steps; False when it is already there."""
    requester = accounts.find_user(demo.requester)
    assert requester is not None
    digest = limits.content_hash(demo.description)
    exists = select(HelpRequest.id).where(HelpRequest.requester_id == requester.id, HelpRequest.content_hash == digest)
    if db.session.scalar(exists.limit(1)) is not None:
        return False
    now = utcnow()
    filed = _filed_at(demo.filed, now)
    branch_id, route = routing.resolve(demo.category, demo.region, requester.branch_id)
    req = HelpRequest(
        requester_id=requester.id,
        home_branch_id=requester.branch_id,
        category=demo.category,
        suggested_category=demo.category,
        region_code=demo.region,
        title=make_title(demo.description),
        description=demo.description,
        content_hash=digest,
        status=RequestStatus.pending,
        handling_branch_id=branch_id,
        route_id=route.id if route is not None else None,
        created_at=filed,
        updated_at=filed,
        due_at=sla.due_at(filed),
    )
    db.session.add(req)
    db.session.flush()
    _event(req, "filed", requester, filed, None, RequestStatus.pending, to_branch_id=branch_id)
    for step in demo.steps:
        at = filed + timedelta(hours=step.hours)
        actor = accounts.find_user(step.actor)
        before = req.status
        if step.kind == "accepted":
            req.status = RequestStatus.in_progress
        elif step.kind == "answered":
            template_id = None
            if demo.template:
                template_id = db.session.scalar(select(HelpTemplate.id).where(HelpTemplate.title == demo.template))
                if template_id is not None:
                    db.session.get(HelpTemplate, template_id).uses += 1
            db.session.add(
                HelpMessage(
                    request_id=req.id,
                    author_id=actor.id,
                    from_handler=True,
                    body=step.body,
                    template_id=template_id,
                    created_at=at,
                )
            )
            req.status = RequestStatus.answered
            req.first_answer_at = req.first_answer_at or at
            req.answered_at = at
        elif step.kind == "resolved":
            req.status = RequestStatus.resolved
            req.ended_at = at
        elif step.kind == "rated":
            req.rating, req.rating_comment, req.rated_at = Rating.satisfied, demo.rating_comment, at
            _event(req, "rated", actor, at, None, None, note=f"{Rating.satisfied.label} {demo.rating_comment}".strip())
            continue
        req.updated_at = at
        _event(req, step.kind, actor, at, before, req.status)
    db.session.flush()
    return True


def _event(
    req: HelpRequest,
    kind: str,
    actor: User | None,
    at: datetime,
    from_status: RequestStatus | None,
    to_status: RequestStatus | None,
    *,
    to_branch_id: int | None = None,
    note: str = "",
) -> None:
    db.session.add(
        HelpEvent(
            request_id=req.id,
            actor_id=actor.id if actor is not None else None,
            kind=kind,
            from_status=from_status.value if from_status is not None else None,
            to_status=to_status.value if to_status is not None else None,
            to_branch_id=to_branch_id,
            note=note,
            created_at=at,
        )
    )
