"""Demo catalogue for `seed-demo`: categories, published courses whose lessons play the demo media,
and one required course assigned to 城关镇党总支. Idempotent: finds before it creates.

Run after ``media.demo.seed_demo_media`` (lessons need ready assets). Without them the courses
are created unpublished and without lessons; running seed-demo again once the media is
ready adds the lessons and publishes them.
"""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import select

from dangxiao.accounts.branches import find_branch_by_name
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.school import catalogue
from dangxiao.school.models import Category, Course, CourseAssignment
from dangxiao.transactions import atomic
from media.demo import DEMO_MEDIA
from media.models import AssetStatus, MediaAsset

DEMO_YEAR = 2026
REQUIRED_BRANCH = "城关镇党总支"
REQUIRED_DEADLINE = date(2026, 12, 20)

# (name, children), in display order
CATEGORIES = [
    ("理论学习", ["习近平新时代中国特色社会主义思想"]),
    ("党章党规", []),
    ("党史学习", ["百年党史"]),
    ("时政要闻", []),
    ("技能培训", ["支部工作实务"]),
]

# (title, category, teacher, required, summary, lesson titles)
COURSES = [
    (
        "学习贯彻党的二十大精神",
        "理论学习",
        "县委党校 王建国",
        True,
        "本课程为 **2026 年度必修课**，系统解读党的二十大报告的主题、主要内容和重大部署。\n\n"
        "- 过去五年的工作和新时代十年的伟大变革\n- 中国式现代化的中国特色和本质要求\n"
        "- 坚定不移全面从严治党\n\n请在截止日期前完成全部课时。",
        ["第一讲 大会主题与新时代十年的伟大变革", "第二讲 中国式现代化的科学内涵", "第三讲 全面从严治党永远在路上"],
    ),
    (
        "《中国共产党章程》逐章学习",
        "党章党规",
        "县委组织部 刘敏",
        False,
        "党章是党的根本大法。本课程按章节逐条讲解党章，帮助党员**学党章、守党章、用党章**，"
        "把党章要求落实到日常言行中。",
        ["总纲 党的性质、宗旨和指导思想", "第一章 党员的义务和权利", "第二章 党的组织制度"],
    ),
    (
        "党史上的今天",
        "百年党史",
        "县党史研究室 赵文华",
        False,
        "以重要历史事件为线索，讲述中国共产党百年奋斗的光辉历程，每讲一个故事、一段历史、一点启示。",
        ["南昌起义——打响武装反抗国民党反动派的第一枪", "遵义会议——伟大的历史转折", "开国大典——中国人民站起来了"],
    ),
    (
        "基层党支部工作实务",
        "支部工作实务",
        "城关镇党委 陈志强",
        False,
        "面向支部书记和支委委员的实务课程：\n\n1. “三会一课”怎么开才不走过场\n2. 主题党日活动如何设计\n"
        "3. 党费收缴、使用和管理的规定",
        ["“三会一课”的规范与实践", "主题党日活动设计", "党费收缴与管理"],
    ),
    (
        "乡村振兴政策解读",
        "时政要闻",
        "县农业农村局 孙丽",
        False,
        "解读中央一号文件和我省乡村振兴有关政策，结合本县茶产业、村集体经济发展的实际案例，"
        "讲清楚政策“是什么、怎么用”。",
        ["中央一号文件要点解读", "产业振兴与壮大村级集体经济"],
    ),
    (
        "发展党员工作流程",
        "技能培训",
        "县委组织部 周明",
        False,
        "按照《中国共产党发展党员工作细则》，讲解发展党员的五个阶段、二十五个步骤，以及各环节常见问题。",
        ["入党申请与入党积极分子的确定和培养", "发展对象的确定和考察", "预备党员的接收、教育考察和转正"],
    ),
    (
        "《中国共产党纪律处分条例》解读",
        "党章党规",
        "县纪委监委 吴刚",
        False,
        "结合典型案例，逐条解读政治纪律、组织纪律、廉洁纪律、群众纪律、工作纪律和生活纪律，"
        "引导党员知敬畏、存戒惧、守底线。",
        ["六项纪律概述", "以案说纪——群众身边的不正之风"],
    ),
]


def _ensure_category(name: str, parent: Category | None) -> Category:
    stmt = select(Category).where(Category.name == name)
    stmt = stmt.where(Category.parent_id.is_(None) if parent is None else Category.parent_id == parent.id)
    return db.session.scalar(stmt) or catalogue.create_category(SYSTEM, name, parent.id if parent else None)


def _demo_assets() -> list[MediaAsset]:
    titles = [title for title, _name, _inputs in DEMO_MEDIA]
    stmt = select(MediaAsset).where(MediaAsset.title.in_(titles), MediaAsset.status == AssetStatus.ready)
    by_title = {asset.title: asset for asset in db.session.scalars(stmt) if asset.is_ready}
    return [by_title[title] for title in titles if title in by_title]


def _seed_categories() -> dict[str, Category]:
    by_name: dict[str, Category] = {}
    for name, children in CATEGORIES:
        by_name[name] = _ensure_category(name, None)
        for child in children:
            by_name[child] = _ensure_category(child, by_name[name])
    return by_name


def _seed_course(spec: tuple, categories: dict[str, Category], assets) -> tuple[Course, str]:
    title, category, teacher, required, summary, lessons = spec
    course = db.session.scalar(select(Course).where(Course.title == title))
    state = "已存在"
    if course is None:
        course = catalogue.create_course(
            SYSTEM,
            title=title,
            year=DEMO_YEAR,
            summary=summary,
            teacher=teacher,
            required=required,
            open_to_all=not required,
            category_id=categories[category].id,
        )
        state = "已创建"
    if not course.lessons and assets is not None:
        for lesson_title in lessons:
            catalogue.add_lesson(SYSTEM, course.id, lesson_title, next(assets).id)
        catalogue.publish_course(SYSTEM, course.id)
        state += "，已添加课时并发布"
    return course, state


def _seed_assignment(course: Course) -> str:
    branch = find_branch_by_name(REQUIRED_BRANCH)
    if branch is None:
        return f"  （未找到组织“{REQUIRED_BRANCH}”，未指派必修课）"
    stmt = select(CourseAssignment).where(
        CourseAssignment.course_id == course.id,
        CourseAssignment.branch_id == branch.id,
        CourseAssignment.year == DEMO_YEAR,
    )
    if db.session.scalar(stmt) is None:
        # Seeded directly: the admin page refuses deadlines already past, history may be.
        db.session.add(
            CourseAssignment(course_id=course.id, branch_id=branch.id, year=DEMO_YEAR, deadline=REQUIRED_DEADLINE)
        )
        db.session.flush()
    return f"  必修课{catalogue.book(course.title)}指派给 {branch.name}，截止 {REQUIRED_DEADLINE.isoformat()}"


def seed_school_demo() -> list[str]:
    """Create the demo catalogue pieces that are missing; returns lines to print."""
    lines = ["网上党校演示课程："]
    with atomic():
        categories = _seed_categories()
        ready = _demo_assets()
        assets = itertools.cycle(ready) if ready else None
        if not ready:
            lines.append(
                "  （未找到可播放的演示媒体：课程暂不添加课时、不发布；生成演示媒体后重新运行 seed-demo 即可）"
            )
        for spec in COURSES:
            course, state = _seed_course(spec, categories, assets)
            lines.append(f"  {catalogue.book(course.title)}{state}")
            if course.required:
                lines.append(_seed_assignment(course))
    return lines
