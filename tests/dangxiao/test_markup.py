"""dangxiao.markup: Markdown in, sanitised HTML out — plain functions, no app or database."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dangxiao import markup
from dangxiao.errors import DomainError
from dangxiao.markup import check_url, clean_html, plain_text, render

CORPUS = Path(__file__).resolve().parents[1] / "e2e" / "xss_payloads.txt"
HOSTS = ("img.example.org",)


def corpus() -> list[str]:
    lines = CORPUS.read_text(encoding="utf-8").split("\n")
    return [line.replace("␤", "\n") for line in lines if line and not line.startswith(";;")]


def hrefs(html: str) -> list[str]:
    return [value for _, attrs in elements(html) for name, value in attrs if name == "href"]


def elements(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every start tag with its attributes (entities decoded), as a browser would see them."""
    found: list[tuple[str, list[tuple[str, str]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, [(name, value or "") for name, value in attrs]))

    Collector(convert_charrefs=True).feed(html)
    return found


def scheme_of(url: str) -> str:
    """The scheme a browser would see: tab/newline dropped, C0/space trimmed, lower case."""
    url = re.sub(r"[\t\n\r]", "", url).strip("".join(chr(c) for c in range(0x21))).lower()
    match = re.match(r"([a-z][a-z0-9+.-]*):", url)
    return match.group(1) if match else ""


# --------------------------------------------------------------------------- Markdown


def test_basic_markdown_renders():
    html = render("**粗体** *斜体* ~~删除~~ `代码`\n\n- 一\n- 二\n\n1. 甲\n2. 乙\n\n> 引用")
    assert "<strong>粗体</strong>" in html
    assert "<em>斜体</em>" in html
    assert "<del>删除</del>" in html
    assert "<code>代码</code>" in html
    assert "<ul>\n<li>一</li>\n<li>二</li>\n</ul>" in html
    assert "<ol>\n<li>甲</li>" in html
    assert "<blockquote>\n<p>引用</p>\n</blockquote>" in html


def test_single_newline_is_a_line_break():
    assert render("第一行\n第二行") == "<p>第一行<br>\n第二行</p>"


def test_headings_are_moved_below_the_page_headings():
    html = render("# 一\n\n## 二\n\n### 三\n\n###### 六")
    assert "<h3>一</h3>" in html and "<h4>二</h4>" in html and "<h5>三</h5>" in html and "<h6>六</h6>" in html
    assert "<h1" not in html and "<h2" not in html


def test_tables_use_align_attributes_not_style():
    html = render("| 左 | 右 |\n|:--|--:|\n| 1 | 2 |")
    assert '<th align="left">左</th>' in html and '<td align="right">2</td>' in html
    assert "style" not in html


def test_fenced_code_keeps_a_validated_language_class_and_escapes_its_body():
    html = render("```python\nif a < b and c > d: print('&')\n```")
    assert '<pre><code class="language-python">' in html
    assert "if a &lt; b and c &gt; d: print('&amp;')" in html
    assert 'class="' not in clean_html('<code class="flash-error">x</code>')
    assert 'class="' not in clean_html('<code class="language-x y">x</code>')


def test_empty_and_blank_text_render_to_nothing():
    assert render("") == ""
    assert render(" \n\t\n") == ""


# --------------------------------------------------------------------------- links


def test_links_get_nofollow_noopener_and_no_target():
    html = render("[党员网](https://www.12371.cn/) 和 [内部](/school/)")
    assert '<a href="https://www.12371.cn/" rel="nofollow noopener">党员网</a>' in html
    assert '<a href="/school/" rel="nofollow noopener">内部</a>' in html
    assert "target" not in html


def test_rel_and_target_given_in_stored_html_are_replaced():
    html = clean_html('<a href="http://a.example/" rel="opener" target="_blank">x</a>')
    assert html == '<a href="http://a.example/" rel="nofollow noopener">x</a>'


def test_bare_urls_are_linkified_but_not_inside_code():
    html = render("见 www.12371.cn 与 https://example.org/a?b=1&c=2 ，代码 `http://no.example.com`")
    assert '<a href="http://www.12371.cn" rel="nofollow noopener">www.12371.cn</a>' in html
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener">' in html
    assert "<code>http://no.example.com</code>" in html


def test_mailto_links_are_kept():
    assert hrefs(render("[写信](mailto:dx@example.cn)")) == ["mailto:dx@example.cn"]


JAVASCRIPT_SPELLINGS = [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](jav\tascript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x]( javascript:alert(1))",
    '[x](javascript:alert(1) "title")',
    "[x][r]\n\n[r]: javascript:alert(1)",
    "[x]\n\n[x]: <javascript:alert(1)>",
    "<javascript:alert(1)>",
    "[x](vbscript:msgbox(1))",
    "[x](VBScript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](DATA:text/html,<script>alert(1)</script>)",
    "[x](java\x00script:alert(1))",
    "[x](java\x01script:alert(1))",
    "[x](livescript:alert(1))",
    "[x](feed:javascript:alert(1))",
]


@pytest.mark.parametrize("source", JAVASCRIPT_SPELLINGS)
def test_dangerous_link_schemes_are_dropped_in_every_spelling(source):
    html = render(source)
    assert "<a" not in html and "href" not in html


RAW_HTML_LINKS = [
    '<a href="javascript:alert(1)">x</a>',
    '<a href="jav&#x61;script:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#1;javascript:alert(1)">x</a>',
    '<a href=" &#14;  javascript:alert(1)">x</a>',
    '<a href="java&#0;script:alert(1)">x</a>',
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
    '<a href="javascript\u200b:alert(1)">x</a>',
]


@pytest.mark.parametrize("fragment", RAW_HTML_LINKS)
def test_stored_html_with_dangerous_hrefs_loses_the_link(fragment):
    assert clean_html(fragment) == "x"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.org/a b", "https://example.org/a%20b"),
        ('http://example.org/?q="x"', "http://example.org/?q=%22x%22"),
        ("/school/1#part", "/school/1#part"),
        ("#top", "#top"),
        ("?page=2", "?page=2"),
        ("lessons/1", "lessons/1"),
        ("  https://example.org/  ", "https://example.org/"),
        ("https://exa\nmple.org/", "https://example.org/"),
        ("javascript:alert(1)", None),
        ("x:y", None),
        ("lessons:1/2", None),
        ("/\\evil.example/", None),
        ("https://img.example.org\\@evil.example/", None),
        ("", None),
    ],
)
def test_check_url(value, expected):
    assert check_url(value) == expected


def test_a_checked_url_is_written_back_exactly_so_it_cannot_decode_twice():
    # "&amp;#x2f;" is the text "&#x2f;"; it must not become "/" (and so "//evil.example").
    html = clean_html('<img src="/&amp;#x2f;evil.example/x.png" alt="a">')
    assert 'src="/&amp;#x2f;evil.example/x.png"' in html
    assert clean_html('<img src="/&#x2f;evil.example/x.png" alt="a">') == "a"


# --------------------------------------------------------------------------- images


def test_same_site_images_are_kept():
    html = render('![校徽](/static/logo.png "标题")')
    assert html == '<p><img alt="校徽" src="/static/logo.png" title="标题"></p>'


def test_images_from_allowed_hosts_are_kept_case_insensitively():
    html = render("![图](https://IMG.example.org/a.png)", image_hosts=["img.Example.org"])
    assert '<img alt="图" src="https://IMG.example.org/a.png">' in html


def test_other_images_become_a_link_and_nothing_is_fetched():
    html = render("![外链图](https://evil.example/pixel.png)", image_hosts=HOSTS)
    assert "<img" not in html
    assert '<a href="https://evil.example/pixel.png" rel="nofollow noopener">外链图</a>' in html
    assert render("![](https://evil.example/p.png)") == (
        '<p><a href="https://evil.example/p.png" rel="nofollow noopener">图片</a></p>'
    )


@pytest.mark.parametrize(
    "source",
    [
        "![a](//evil.example/x.png)",
        "![a](/\\evil.example/x.png)",
        "![a](javascript:alert(1))",
        "![a](data:image/svg+xml;base64,PHN2Zz4=)",
        "![a](https://img.example.org@evil.example/x.png)",
        "![a](https://evil.example/?img.example.org)",
        "![a](x.png)",
        "![a][i]\n\n[i]: javascript:alert(1)",
    ],
)
def test_disallowed_images_are_removed(source):
    html = render(source, image_hosts=HOSTS)
    assert "<img" not in html
    assert "javascript" not in html and "data:" not in html


def test_a_disallowed_image_inside_a_link_keeps_only_its_alt_text():
    html = render("[![图](https://evil.example/x.png)](https://ok.example/)")
    assert html == '<p><a href="https://ok.example/" rel="nofollow noopener">图</a></p>'


def test_image_size_attributes_must_be_plain_numbers():
    assert clean_html('<img src="/a.png" alt="a" width="120" height="80">') == (
        '<img src="/a.png" alt="a" width="120" height="80">'
    )
    assert clean_html('<img src="/a.png" alt="a" width="100%" height="1;x">') == '<img src="/a.png" alt="a">'


# --------------------------------------------------------------------------- raw HTML


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<b onmouseover=alert(1)>粗</b>",
        '<a href="javascript:alert(1)">x</a>',
        "<div>\n<svg onload=alert(1)>\n</div>",
        "<!-- <img src=x onerror=alert(1)> -->",
        "<style>body{display:none}</style>",
        "<iframe src=//evil.example></iframe>",
    ],
)
def test_raw_html_is_shown_as_text_never_passed_through(source):
    html = render(source)
    assert html.startswith("<p>&lt;") and html.endswith("</p>")
    assert {tag for tag, _ in elements(html)} <= {"p", "br"}
    assert all(attrs == [] for _, attrs in elements(html))


def test_raw_html_in_stored_fragments_is_stripped_to_the_allowlist():
    html = clean_html(
        '<p onclick="x()" style="color:red" id="a" class="b">t<script>alert(1)</script></p><svg><g/></svg>'
    )
    assert html == "<p>talert(1)</p>"


def test_entities_stay_text():
    assert render("&lt;script&gt;") == "<p>&lt;script&gt;</p>"
    assert render("&#x3C;b&#x3E;") == "<p>&#x3C;b&#x3E;</p>"
    assert render("A & B") == "<p>A &amp; B</p>"


def test_text_that_looks_like_an_attribute_cannot_break_out():
    html = render('[x](http://example.com"onmouseover="alert(1))')
    assert 'href="http://example.com%22onmouseover=%22alert(1"' in html
    assert " onmouseover" not in html


# --------------------------------------------------------------------------- limits and cleaning


def test_too_long_text_is_refused_with_a_code():
    with pytest.raises(DomainError) as caught:
        render("党" * (markup.MAX_LENGTH + 1))
    assert caught.value.code == "too_long"
    assert "内容过长" in caught.value.message and str(markup.MAX_LENGTH) in caught.value.message
    assert render("党" * markup.MAX_LENGTH).startswith("<p>党")


def test_the_limit_is_configurable():
    with pytest.raises(DomainError):
        render("12345", max_length=4)
    assert render("1234", max_length=4) == "<p>1234</p>"


def test_control_characters_are_stripped_but_tab_and_newline_kept():
    assert markup.strip_control_chars("a\x00b\x07c\x1bd\x7fe\x85f\tg\r\nh\ri") == "abcdef\tg\nh\ni"
    html = render("a\x00b\x02wzxhzdk:0\x03c")
    assert html == "<p>abwzxhzdk:0c</p>"


def test_non_text_input_is_a_programming_error():
    with pytest.raises(TypeError):
        render(None)  # type: ignore[arg-type]


def test_bracket_floods_render_quickly_and_look_the_same():
    start = time.perf_counter()
    html = render("[" * markup.MAX_LENGTH)
    assert time.perf_counter() - start < 5
    assert html == "<p>" + "[" * markup.MAX_LENGTH + "</p>"
    # a normal text with links is left alone
    assert "<a href" in render("[a](http://a.example/) " * 200)


def test_absurd_nesting_is_refused_not_crashed():
    with pytest.raises(DomainError) as caught:
        render("1. " * 16_000)
    assert caught.value.code == "too_complex"


# --------------------------------------------------------------------------- stored HTML


@pytest.mark.parametrize("payload", corpus())
def test_corpus_output_is_a_fixed_point_of_the_sanitiser(payload):
    for html in (render(payload, image_hosts=HOSTS), clean_html(payload, image_hosts=HOSTS)):
        assert clean_html(html, image_hosts=HOSTS) == html
        for tag, attrs in elements(html):
            assert tag in markup.TAGS
            for name, value in attrs:
                assert not name.startswith("on")
                if name in {"href", "src"}:
                    assert scheme_of(value) in {"", "http", "https", "mailto"}


def test_corpus_has_enough_payloads():
    assert len(corpus()) >= 60


def test_plain_text_for_excerpts():
    html = render("# 标题\n\n第一段 **粗** &amp; [链接](http://a.example/)\n\n- 甲\n- 乙")
    assert plain_text(html) == "标题 第一段 粗 & 链接 甲 乙"
    assert plain_text(html, limit=6) == "标题 第一…"
    assert plain_text("<p>&lt;script&gt;</p>") == "<script>"  # text: the template escapes it


def test_render_for_app_reads_config():
    from flask import Flask

    app = Flask(__name__)
    app.config["MARKUP_IMAGE_HOSTS"] = ["img.example.org"]
    app.config["MARKUP_MAX_LENGTH"] = 100
    with app.app_context():
        assert "<img" in markup.render_for_app("![a](https://img.example.org/a.png)")
        with pytest.raises(DomainError):
            markup.render_for_app("x" * 101)
    app.config["MARKUP_IMAGE_HOSTS"] = "a.example, img.example.org"  # a plain string from the environment
    with app.app_context():
        assert "<img" in markup.render_for_app("![a](https://img.example.org/a.png)")


def test_config_default_allows_no_image_hosts():
    from dangxiao.config import Defaults

    assert Defaults.MARKUP_IMAGE_HOSTS == []
