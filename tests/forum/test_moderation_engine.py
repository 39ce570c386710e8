"""The pure moderation core: normalisation, evasion tricks, allowlist, words, verdicts (no database)."""

from __future__ import annotations

import pytest

from dangxiao.text.normalise import normalise
from forum.moderation.engine import Engine, RuleSpec

ENGINE = Engine(
    [
        RuleSpec(1, "刷单", "block"),
        RuleSpec(2, "代考", "block"),
        RuleSpec(3, "代考证", "allow"),
        RuleSpec(4, "QQ12345", "review"),
        RuleSpec(5, "ass", "censor"),
        RuleSpec(6, "傻瓜", "censor"),
        RuleSpec(7, "兼职", "flag"),
        RuleSpec(8, "流动党员", "tag", category="flowing"),
        RuleSpec(9, "办证", "review", scope="help"),
        RuleSpec(10, "發財", "block"),  # a traditional rule still matches simplified text
    ]
)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("这里刷单", (2, 4)),  # plain, inside unbroken Chinese
        ("找人ｓｈｕａ刷单ＯＫ", (6, 8)),  # full-width around it
        ("我們刷單吧", (2, 4)),  # traditional
        ("快来刷 单", (2, 5)),  # a space between the characters
        ("快来刷.*-单", (2, 7)),  # punctuation and symbols
        ("快来刷\u200b\u200d单", (2, 6)),  # zero-width characters
        ("快来刷，。单", (2, 6)),  # full-width punctuation
        ("快来刷\u3000单！", (2, 5)),  # ideographic space
        ("[刷]_[單]", (1, 6)),  # mixed: traditional + brackets
    ],
)
def test_each_evasion_trick_is_caught_with_the_original_span(text, span):
    verdict = ENGINE.check(text)
    assert verdict.action == "block"
    assert [(m.rule, m.start, m.end) for m in verdict.matches] == [("刷单", *span)]
    assert verdict.matches[0].text == text[span[0] : span[1]]


def test_digits_case_and_mixed_tricks_on_a_latin_rule():
    for text, span in [
        ("加ＱＱ①②③④⑤好友", (1, 8)),  # full-width letters, circled digits
        ("加qq⑴⑵3 4 5好友", (1, 10)),  # lower case, parenthesised digits, spaces
        ("加Q.q.1.2.3.4.5", (1, 14)),
    ]:
        verdict = ENGINE.check(text)
        assert verdict.action == "review", text
        assert [(m.start, m.end) for m in verdict.matches] == [span], text
    assert ENGINE.check("QQ123456").action == "allow"  # whole words: a longer number is not the rule
    assert ENGINE.check("xQQ12345").action == "allow"


def test_normalise_maps_back_through_expansions_and_drops():
    folded = normalise("Ａ⑽·b")
    assert folded.text == "a10b"
    assert [folded.to_original(i) for i in range(4)] == [0, 1, 1, 3]
    assert folded.span(1, 4) == (1, 4)
    verdict = ENGINE.check("⑽㎏，刷 單")  # expansions before a match take the general map
    assert [(m.start, m.end, m.text) for m in verdict.matches] == [(3, 6, "刷 單")]


def test_allowlist_cancels_only_what_it_covers():
    assert ENGINE.check("第21代考证").action == "allow"
    assert ENGINE.check("第21代 考 證").action == "allow"  # the allowlist sees through tricks too
    verdict = ENGINE.check("代考证和代考")
    assert verdict.action == "block"
    assert [(m.start, m.end) for m in verdict.matches] == [(4, 6)]


def test_latin_rules_match_whole_words_only():
    assert ENGINE.check("first class passage").matches == []
    verdict = ENGINE.check("you ＡＳＳ, and a.s.s!")
    assert [(m.start, m.end, m.text) for m in verdict.matches] == [(4, 7, "ＡＳＳ"), (13, 18, "a.s.s")]
    assert verdict.censored == "you ＊＊＊, and ＊＊＊＊＊!"


def test_precedence_tags_scope_and_censor():
    assert ENGINE.check("你这傻瓜").action == "censor"
    assert ENGINE.check("你这傻瓜，兼职吗").action == "flag"
    assert ENGINE.check("你这傻瓜，兼职吗，加QQ12345").action == "review"
    verdict = ENGINE.check("傻瓜兼职QQ12345刷单")
    assert verdict.action == "block"
    assert [m.action for m in verdict.matches] == ["censor", "flag", "review", "block"]
    assert verdict.censored == "＊＊兼职QQ12345刷单"
    tagged = ENGINE.check("我是流動黨員，想转关系")
    assert (tagged.action, tagged.tags) == ("allow", ["flowing"])
    assert tagged.matches[0].text == "流動黨員"
    assert ENGINE.check("帮忙办证", scope="forum").action == "allow"
    assert ENGINE.check("帮忙办证", scope="help").action == "review"
    assert ENGINE.check("帮忙办证").action == "review"  # no scope: every rule
    assert ENGINE.check("恭喜发财").action == "block"
    assert ENGINE.check("").as_dict() == {"action": "allow", "matches": [], "tags": []}
    assert Engine([]).check("刷单").action == "allow"
