"""The moderation service and CLI on SQLite and PostgreSQL: rules, word lists, the shared engine, hits."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, text

from dangxiao.errors import DomainError, Forbidden
from dangxiao.extensions import db
from dangxiao.policy import SYSTEM
from dangxiao.transactions import atomic
from forum.moderation import rules
from forum.moderation.models import ModerationRule


def _words() -> list[tuple[str, str, str]]:
    return [
        tuple(r) for r in db.session.execute(select(ModerationRule.word, ModerationRule.action, ModerationRule.scope))
    ]


def test_import_txt_and_csv_with_duplicates_blank_lines_bom_and_gbk(ctx, tmp_path, runner):
    txt = "\ufeff刷单\n\n代考\r\n刷单\n  \n刷單\n# 注释\n".encode()  # BOM, CRLF, duplicates (刷單 folds to 刷单)
    with atomic():
        assert rules.import_rules(SYSTEM, txt, action="block", filename="list.txt") == 2
    gbk = "代考\n办证\n\n兼职\n".encode("gbk")
    with atomic():
        assert rules.import_rules(SYSTEM, gbk, action="block") == 2  # 代考 is already there
    csv_with_header = "word,action,scope\n傻瓜,censor,forum\n流动党员,tag,,流动\n,block,all\n傻瓜,censor,forum\n"
    with atomic():
        assert rules.import_rules(SYSTEM, csv_with_header.encode("gbk"), action="review", filename="x.csv") == 2
    path = tmp_path / "rules.csv"
    path.write_bytes("\ufeff代考证,allow,all\n私信,,help\n".encode())  # no header, BOM, empty action
    result = runner.invoke(args=["moderation", "import", str(path), "--action", "review"])
    assert result.exit_code == 0, result.output
    assert "已添加 2 条规则" in result.output
    db.session.rollback()
    assert sorted(_words()) == sorted(
        [
            ("刷单", "block", "all"),
            ("代考", "block", "all"),
            ("办证", "block", "all"),
            ("兼职", "block", "all"),
            ("傻瓜", "censor", "forum"),
            ("流动党员", "tag", "all"),
            ("代考证", "allow", "all"),
            ("私信", "review", "help"),
        ]
    )
    bad = "word,action\n好词,explode\n".encode()
    with pytest.raises(DomainError, match="第 1 条"), atomic():
        rules.import_rules(SYSTEM, bad, action="block", filename="bad.csv")
    exported = runner.invoke(args=["moderation", "export"]).output.splitlines()
    assert exported[0] == "word,action,scope,category" and "流动党员,tag,all,流动" in exported


def test_cli_check_prints_one_json_verdict_and_counts_no_hits(ctx, runner):
    with atomic():
        rules.add_rule(SYSTEM, "刷单", "block")
        rules.add_rule(SYSTEM, "傻瓜", "censor", scope="forum")
        rules.add_rule(SYSTEM, "流动党员", "tag", category="流动")
    result = runner.invoke(args=["moderation", "check"], input="我是流动党员，你这傻 瓜别刷①單\n")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    verdict = json.loads(lines[0])
    assert verdict == {
        "action": "censor",
        "matches": [
            {"rule": "流动党员", "action": "tag", "start": 2, "end": 6, "text": "流动党员"},
            {"rule": "傻瓜", "action": "censor", "start": 9, "end": 12, "text": "傻 瓜"},
        ],
        "tags": ["流动"],
    }  # 刷①單 is not 刷单: a digit is a character, not a separator
    assert "流动党员" in lines[0]  # ensure_ascii=False
    live = json.loads(runner.invoke(args=["moderation", "check", "--scope", "live"], input="傻瓜刷单").output)
    assert (live["action"], [m["rule"] for m in live["matches"]]) == ("block", ["刷单"])
    assert runner.invoke(args=["moderation", "check", "--scope", "moon"], input="x").exit_code != 0
    db.session.rollback()
    assert db.session.scalars(select(ModerationRule.hits)).all() == [0, 0, 0]


def test_rule_changes_policy_hits_and_rebuild_after_another_process_changes_rules(ctx, create_user):
    member = create_user("mod_member")
    moderator = create_user("mod_moderator", roles=("member", "moderator"))
    from dangxiao.accounts.models import User

    with atomic():
        with pytest.raises(Forbidden):
            rules.add_rule(db.session.get(User, member), "刷单", "block")
        rule = rules.add_rule(db.session.get(User, moderator), "刷单", "review")
        with pytest.raises(DomainError):
            rules.add_rule(SYSTEM, "刷 單", "review")  # the same rule, folded
        with pytest.raises(DomainError):
            rules.add_rule(SYSTEM, "…", "block")  # nothing left to match
        rule_id = rule.id
    assert rule.created_by_id == moderator
    with atomic():
        first = rules.check("快来刷单", record=True)
        assert first.action == "review" and first.rule_ids == [rule_id]
        rules.check("刷单刷单", record=True)  # counted once per recorded verdict
    engine = rules.current_engine()
    assert rules.current_engine() is engine  # shared until the rules change
    with atomic():
        rules.update_rule(SYSTEM, rule_id, action="block")
    assert rules.check("刷单").action == "block"
    with atomic():
        rules.disable_rule(SYSTEM, rule_id)
    assert rules.check("刷单").action == "allow"
    db.session.rollback()
    assert db.session.get(ModerationRule, rule_id).hits == 2
    db.session.rollback()

    # "Another process": a separate connection adds a rule and a new token, then commits.
    with db.engine.connect() as other:
        other.execute(
            text(
                "INSERT INTO moderation_rules (word, pattern, action, scope, category, enabled, hits, created_at, updated_at)"
                " VALUES ('代考', '代考', 'block', 'all', '', :yes, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"yes": True},
        )
        other.execute(text("UPDATE moderation_rule_set SET token = :t WHERE id = 1"), {"t": uuid.uuid4().hex})
        other.commit()
    verdict = rules.check("帮忙代考")
    assert rules.current_engine() is not engine
    assert [(m.rule, m.start, m.end) for m in verdict.matches] == [("代考", 2, 4)]
