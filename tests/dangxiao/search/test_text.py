"""The pure search text steps: fold, index tokens, query parsing and highlighting (no app, no DB)."""

from __future__ import annotations

import time

from markupsafe import Markup

from dangxiao.search.text import MAX_TERMS, Word, doc_tokens, fold, highlight, highlight_title, parse
from dangxiao.text.normalise import normalise_text


def test_fold_keeps_every_offset_and_folds_like_moderation():
    text = "組織關係：ＰＤＦ\u200b文件 ⑽ ﬁ"
    folded = fold(text)
    assert len(folded) == len(text)
    assert folded == "组织关系 pdf 文件 ⑽ ﬁ"  # punctuation/zero-width → spaces, expansions kept as they were
    # the moderation fold is unchanged: it still drops and expands
    assert normalise_text(text) == "组织关系pdf文件10fi"


def test_doc_tokens_keep_party_terms_whole_and_add_sub_words():
    tokens = doc_tokens("落实三会一课，办理組織關係轉接！").split(" ")
    assert "三会一课" in tokens and "组织关系转接" in tokens
    assert tokens[tokens.index("组织") :][:3] == ["组织", "关系", "转接"]  # the sub-words, adjacent, in order
    assert "" not in tokens and "，" not in "".join(tokens)


def test_a_word_matches_its_token_or_the_phrase_of_its_sub_words():
    parsed = parse("組織關係")
    assert parsed.words == [Word("组织关系", ("组织", "关系"))]
    assert parsed.raw_terms == ["组织关系"]
    # a word whose sub-words do not cover it gets none (介绍 alone would match far more than 介绍信)
    assert parse("介绍信").words == [Word("介绍信")]
    assert parse("三会一课").words == [Word("三会一课")]


def test_query_syntax_words_phrases_and_excluded():
    parsed = parse('党员 "组织生活会 通知" -转接 -"foo bar"')
    assert [w.token for w in parsed.words] == ["党员"]
    assert parsed.phrases == [["组织生活会", "通知"]]
    assert [w.token for w in parsed.excluded] == ["转接", "foo bar"]
    assert parsed.raw_terms == ["党员", "组织生活会 通知"]
    # Chinese quotes and full-width minus count too; a one-word phrase is a word
    parsed = parse("“三会一课” －ＰＤＦ")
    assert [w.token for w in parsed.words] == ["三会一课"] and [w.token for w in parsed.excluded] == ["pdf"]


def test_unbalanced_quote_runs_to_the_end_of_the_line():
    parsed = parse('下载 "pdf 文件\n手册')
    assert parsed.phrases == [["pdf", "文件"]]
    assert [w.token for w in parsed.words] == ["下载", "手册"]


def test_mixed_english_chinese_and_full_width_letters():
    parsed = parse("ＰＤＦ文件怎么下载 Excel")
    assert [w.token for w in parsed.words] == ["pdf", "文件", "怎么", "下载", "excel"]


def test_empty_and_punctuation_only_queries_are_empty():
    for q in ["", "   ", "！！，。、", '"""', "-", "- -", "*:^()", "\u200b\u3000"]:
        parsed = parse(q)
        assert parsed.empty, q
        assert parsed.raw_terms == []
    assert parse("-转接").empty  # only excluded words: nothing to look for


def test_huge_query_is_cut_and_bounded():
    started = time.perf_counter()
    parsed = parse("组织关系 " * 2000 + "x" * 10_000)
    assert time.perf_counter() - started < 1
    assert 0 < len(parsed.words) <= MAX_TERMS
    many = parse(" ".join(f"w{i}" for i in range(200)), max_chars=10_000)
    assert len(many.words) == MAX_TERMS


def test_highlight_marks_the_original_text_and_escapes_it():
    text = "<script>alert(1)</script> 我想办理組織關係轉接，PDF文件"
    html = highlight(text, parse("组织关系 pdf script").raw_terms)
    assert isinstance(html, Markup)
    assert "<script>" not in html
    assert "&lt;<mark>script</mark>&gt;" in html
    assert "<mark>組織關係</mark>" in html and "<mark>PDF</mark>" in html  # the original characters


def test_highlight_spans_punctuation_and_respects_latin_word_edges():
    assert "<mark>组织、关系</mark>" in highlight("转接组织、关系", ["组织关系"])
    html = highlight("pdfs and pdf", ["pdf"])
    assert html == "pdfs and <mark>pdf</mark>"


def test_snippet_around_the_first_match_with_ellipses():
    text = "甲" * 500 + "组织关系转接" + "乙" * 500
    html = highlight(text, ["组织关系转接"], width=60)
    assert html.startswith("…") and html.endswith("…")
    assert "<mark>组织关系转接</mark>" in html
    assert len(html.replace("<mark>", "").replace("</mark>", "")) == 62
    # no match: the beginning, escaped
    assert highlight("<b>" + "丙" * 200, ["无关"], width=10) == "&lt;b&gt;" + "丙" * 7 + "…"
    assert highlight("", ["x"]) == ""


def test_highlight_title_whole_with_hostile_terms():
    title = "關於<b>三会一课</b>的通知"
    html = highlight_title(title, ["<script>", "三会一课", '"', ""])
    assert html == "關於&lt;b&gt;<mark>三会一课</mark>&lt;/b&gt;的通知"
    assert highlight_title("<i>x</i>", []) == "&lt;i&gt;x&lt;/i&gt;"
