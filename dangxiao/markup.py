"""User-written Markdown → sanitised HTML, rendered once when the text is saved.

Course descriptions, forum posts, help requests and Q&A answers store the HTML that
:func:`render` returns next to the source text, and templates print it with ``|safe``.
Sanitising once at write time keeps page views cheap and puts the whole defence in one
place that is tested against an XSS corpus in a real browser
(``tests/e2e/test_xss_corpus.py``). The price: the stored HTML is trusted, so it must
only ever come from :func:`render` (or :func:`clean_html` when an allowlist change means
re-sanitising what is stored), never from a form field directly. The site's CSP (no
inline script) is a second line of defence, not the first.

How one text is rendered:

1. Refuse texts longer than ``max_length`` characters (:class:`DomainError`, code
   ``too_long``); drop NUL and the other C0/C1 control characters except ``\\t`` and
   ``\\n`` (``\\r\\n`` becomes ``\\n``), and the noncharacters U+FDD0–U+FDEF. That also
   removes ``\\x02``/``\\x03``, the placeholder markers Python-Markdown uses internally,
   so input cannot forge them (nor the bracket stand-in below).
2. Keep the work bounded. Python-Markdown's link parser is quadratic on unclosed
   brackets (``"[" * 50_000`` would hold a worker for many minutes; upstream issue #798),
   so when the brackets would make it scan more than :data:`LINK_SCAN_BUDGET` characters,
   the ``[`` of the costliest paragraphs are hidden from it (swapped for a noncharacter
   and back): they look the same, they just make no links. Nesting deeper than Python's
   recursion limit (``"1. " * 16_000``) is refused with code ``too_complex``. The worst
   inputs measured otherwise take about 5 s at the 50 000-character limit.
3. Python-Markdown (extensions ``tables``, ``fenced_code``, ``sane_lists``, ``nl2br`` and
   ``~~strike~~``) with its raw-HTML support switched off: ``<b>``, ``<script>`` and every
   other tag typed by the user come out as visible text, never as markup. Headings are
   moved down two levels (``#`` → ``<h3>`` … ``####`` and below → ``<h6>``) so that user
   content never competes with the page's own ``<h1>``/``<h2>``.
4. bleach re-parses that HTML like a browser (html5lib) and keeps only an allowlist of
   tags and attributes (:data:`TAGS`, :func:`_allowed_attribute`), drops comments and
   re-serialises it, so the output is well-formed and a fixed point:
   ``clean_html(render(x)) == render(x)``.
5. Every URL (``a href``, ``img src``) is entity-decoded, stripped of the tab/newline a
   browser would ignore and checked on the decoded form: absolute ``http``, ``https`` and
   ``mailto`` only, otherwise a path (``/…``, ``#…``, ``?…`` or a relative path without a
   colon before its first ``/``). Everything else — ``javascript:``, ``vbscript:``,
   ``data:``, ``jav&#x09;ascript:``, ``JaVaScRiPt:``, unknown schemes — is dropped, and a
   backslash anywhere refuses the URL (browsers read it as ``/``). Spaces, quotes, ``<``,
   ``>`` and backticks are percent-encoded. What is written back is exactly what was
   checked (``&`` re-escaped), so a browser cannot decode it a second time.
6. Links: a link whose URL is refused loses its ``<a>`` and keeps its text. Bare URLs
   (``www.example.com``, ``https://…``) are linkified, but not inside code. Every ``<a>``
   gets ``rel="nofollow noopener"``; no ``target`` is ever set, links open in the same
   tab (so no reverse tab-nabbing to think about, noopener is kept anyway).
7. Images: same-site paths (``/…`` but not ``//`` or ``/\\``) are kept; absolute
   ``http(s)`` images only when the host is in ``image_hosts`` (exact, case-insensitive
   host name; config ``MARKUP_IMAGE_HOSTS``). Other ``http(s)`` images become a link
   labelled with the alt text (or "图片") so nothing is fetched from a third party
   (no tracking pixels) but the reader can still open it; inside a link, and for refused
   URLs, only the alt text is kept.

Allowed attributes: ``a``: href, title, rel; ``img``: src, alt, title, width/height
(digits); ``code``: class ``language-<name>``; ``ol``: start; ``th``/``td``: align
(left/center/right — the ``tables`` extension is told to use ``align``, because
``style`` is never allowed).

:func:`plain_text` turns stored HTML into plain text for excerpts and search; its
result is text, to be escaped by the template like any other string.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as etree
from collections.abc import Iterable, Iterator
from functools import partial
from html.parser import HTMLParser
from urllib.parse import urlsplit

import markdown
from bleach import html5lib_shim
from bleach.linkifier import LinkifyFilter, build_url_re
from bleach.sanitizer import Cleaner
from markdown.extensions import Extension
from markdown.inlinepatterns import SimpleTagInlineProcessor
from markdown.treeprocessors import Treeprocessor

from dangxiao.errors import DomainError

#: Longest accepted source text, in characters (``MARKUP_MAX_LENGTH`` overrides it).
MAX_LENGTH = 50_000
#: Characters Python-Markdown may scan looking for ``]``/``)`` in one text (about 0.5-1 s).
LINK_SCAN_BUDGET = 1_000_000

#: Tags that survive sanitising. Headings start at h3 (see the module docstring).
TAGS = frozenset(
    {
        "p", "br", "hr", "strong", "em", "b", "i", "del", "sup", "sub",
        "ul", "ol", "li", "blockquote", "code", "pre",
        "h3", "h4", "h5", "h6",
        "a", "img",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip

#: Absolute URL schemes allowed in href/src; anything else with a scheme is dropped.
PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener"
IMAGE_PLACEHOLDER = "图片"

HEADING_SHIFT = {"h1": "h3", "h2": "h4", "h3": "h5", "h4": "h6", "h5": "h6", "h6": "h6"}

# C0 and C1 controls and DEL, except tab and newline (\r is normalised away first), and the
# noncharacters U+FDD0..U+FDEF (one of them stands in for "[" in bracket floods).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufdd0-\ufdef]")
_BRACKET_STAND_IN = "\ufdd0"
_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9][A-Za-z0-9_+#.-]{0,31}")
_DIGITS = re.compile(r"[0-9]{1,4}")
_ALIGN = frozenset({"left", "center", "right"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# What a URL parser ignores: tab/newline anywhere, C0 controls and space at either end.
_URL_IGNORED = re.compile(r"[\t\n\r]")
_URL_EDGES = "".join(chr(c) for c in range(0x21))
# Left in the middle of a decoded URL these mean trickery (or a broken URL): refuse.
_URL_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\\\u2028\u2029]")
# Characters a browser would percent-encode anyway; encoded here so no URL can look like markup.
_URL_PERCENT_ENCODE = str.maketrans({" ": "%20", '"': "%22", "<": "%3C", ">": "%3E", "`": "%60"})

_URL_RE = build_url_re(protocols=["http", "https"])


# --------------------------------------------------------------------------- public API


def render(text: str, *, image_hosts: Iterable[str] = (), max_length: int = MAX_LENGTH) -> str:
    """Markdown `text` as sanitised HTML, safe to store and print with ``|safe``.

    Raises :class:`DomainError` (code ``too_long``) above `max_length` characters.
    """
    if not isinstance(text, str):
        raise TypeError(f"render() expects str, not {type(text).__name__}")
    if len(text) > max_length:
        raise DomainError(
            f"内容过长：最多 {max_length} 个字符，当前 {len(text)} 个，请删减后再提交。",
            code="too_long",
        )
    text = strip_control_chars(text)
    if not text.strip():
        return ""
    try:
        body = _markdown(_defuse_bracket_floods(text)).replace(_BRACKET_STAND_IN, "[")
    except RecursionError:
        raise DomainError("内容的嵌套层次过深，无法排版，请简化后再提交。", code="too_complex") from None
    return clean_html(body, image_hosts=image_hosts)


def render_for_app(text: str) -> str:
    """:func:`render` with this app's ``MARKUP_IMAGE_HOSTS`` (and ``MARKUP_MAX_LENGTH``, if set)."""
    from flask import current_app

    config = current_app.config
    hosts = config.get("MARKUP_IMAGE_HOSTS") or ()
    if isinstance(hosts, str):  # DANGXIAO_MARKUP_IMAGE_HOSTS=a.example,b.example (not JSON)
        hosts = hosts.replace(",", " ").split()
    return render(text, image_hosts=hosts, max_length=int(config.get("MARKUP_MAX_LENGTH") or MAX_LENGTH))


def clean_html(fragment: str, *, image_hosts: Iterable[str] = ()) -> str:
    """Sanitise an HTML fragment with the same rules as :func:`render` (no Markdown).

    Meant for re-sanitising stored output after the rules change; the output of
    :func:`render` passes through unchanged.
    """
    hosts = frozenset(h.strip().lower() for h in image_hosts if h and h.strip())
    cleaner = Cleaner(  # not thread-safe (the parser keeps state): one per call
        tags=TAGS,
        attributes=_allowed_attribute,
        protocols=PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[
            partial(_UrlPolicyFilter, image_hosts=hosts),
            partial(
                LinkifyFilter,
                callbacks=[_link_callback],
                skip_tags={"pre", "code"},
                parse_email=False,
                url_re=_URL_RE,
            ),
        ],
    )
    return cleaner.clean(fragment)


def plain_text(fragment: str, limit: int | None = None) -> str:
    """The readable text of stored HTML, whitespace collapsed; cut to `limit` chars with "…".

    The result is plain text: let the template escape it (never ``|safe``).
    """
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    text = " ".join("".join(parser.parts).split())
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def strip_control_chars(text: str) -> str:
    """Normalise newlines to ``\\n``; drop control characters (except tab, newline) and U+FDD0..U+FDEF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_CHARS.sub("", text)


def check_url(value: str) -> str | None:
    """The decoded, canonical form of an attribute URL if it is allowed, else None.

    `value` is the attribute as written in HTML (entities not yet decoded).
    """
    url = _URL_IGNORED.sub("", html.unescape(value)).strip(_URL_EDGES)
    if not url or _URL_REFUSED.search(url):
        return None
    url = url.translate(_URL_PERCENT_ENCODE)
    match = _SCHEME.match(url)
    if match:
        return url if match.group(1).lower() in PROTOCOLS else None
    head = re.split(r"[/?#]", url, maxsplit=1)[0]
    if ":" in head:  # not a valid scheme, not a plain path either: refuse the oddity
        return None
    return url


def is_allowed_image(url: str, image_hosts: Iterable[str] = ()) -> bool:
    """Whether a checked URL (see :func:`check_url`) may be an ``<img src>``."""
    if url.startswith("/"):
        return not url.startswith("//")
    match = _SCHEME.match(url)
    if not match or match.group(1).lower() not in {"http", "https"}:
        return False
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    hosts = {h.strip().lower() for h in image_hosts}
    return bool(host) and host.lower() in hosts


# --------------------------------------------------------------------------- Markdown


class _ShiftHeadings(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        for element in root.iter():
            if element.tag in HEADING_SHIFT:
                element.tag = HEADING_SHIFT[element.tag]


class _SafeMarkdown(Extension):
    """No raw HTML (typed tags become text), headings moved down, ``~~strike~~``."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 — Markdown's API
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.inlinePatterns.register(SimpleTagInlineProcessor(r"(~~)(?=\S)(.+?)(?<=\S)~~", "del"), "strike", 65)
        md.treeprocessors.register(_ShiftHeadings(md), "shift_headings", 5)


def _link_scan_cost(chunk: str) -> int:
    """How many characters the link parser scans for the ``[``/``](`` openers in `chunk`.

    Each opener is scanned to its partner, or to the end of the paragraph when it has none.
    """
    cost = 0
    brackets: list[int] = []
    parens: list[int] = []  # -1 for a "(" that does not follow "]" (not a link destination)
    for i, char in enumerate(chunk):
        if char == "[":
            brackets.append(i)
        elif char == "]" and brackets:
            cost += i - brackets.pop()
        elif char == "(":
            parens.append(i if i and chunk[i - 1] == "]" else -1)
        elif char == ")" and parens:
            start = parens.pop()
            if start >= 0:
                cost += i - start
    end = len(chunk)
    return cost + sum(end - i for i in brackets) + sum(end - i for i in parens if i >= 0)


def _defuse_bracket_floods(text: str) -> str:
    """Hide the ``[`` of the costliest paragraphs until the link parser's work fits the budget."""
    if text.count("[") < 100:  # cannot be expensive: at most 100 scans of the text
        return text
    parts = re.split(r"(\n[ \t]*\n)", text)  # blank-line chunks hold whole paragraphs
    costs = sorted(((_link_scan_cost(parts[i]), i) for i in range(0, len(parts), 2)), reverse=True)
    total = sum(cost for cost, _ in costs)
    for cost, i in costs:
        if total <= LINK_SCAN_BUDGET:
            break
        parts[i] = parts[i].replace("[", _BRACKET_STAND_IN)
        total -= cost
    return "".join(parts)


def _markdown(text: str) -> str:
    md = markdown.Markdown(  # not thread-safe either: one per call
        extensions=[
            "tables",
            "fenced_code",
            "sane_lists",
            "nl2br",
            _SafeMarkdown(),
        ],
        extension_configs={"tables": {"use_align_attribute": True}},
        output_format="html",
    )
    return md.convert(text)


# --------------------------------------------------------------------------- bleach


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    """The attribute allowlist; URLs are judged again (and rewritten) by _UrlPolicyFilter."""
    if tag == "a":
        return name in {"href", "title", "rel"}
    if tag == "img":
        if name in {"width", "height"}:
            return bool(_DIGITS.fullmatch(value))
        return name in {"src", "alt", "title"}
    if tag == "code" and name == "class":
        return bool(_LANGUAGE_CLASS.fullmatch(value))
    if tag == "ol" and name == "start":
        return bool(_DIGITS.fullmatch(value))
    if tag in {"th", "td"} and name == "align":
        return value in _ALIGN
    return False


def _as_attribute(url: str) -> str:
    """A checked URL in the raw form the bleach serializer expects (it keeps entities)."""
    return url.replace("&", "&amp;")


def _link_callback(attrs: dict, new: bool = False) -> dict | None:
    """Linkify callback, run on every link: check new ones, set rel on all."""
    href_key = (None, "href")
    if new:
        url = check_url(_as_attribute(attrs.get(href_key, "")))
        if url is None:
            return None
        attrs[href_key] = _as_attribute(url)
    if href_key not in attrs:
        return None
    attrs[(None, "rel")] = LINK_REL
    attrs.pop((None, "target"), None)
    return attrs


class _UrlPolicyFilter(html5lib_shim.Filter):
    """Check every href/src; unwrap refused links; keep, link or drop images."""

    def __init__(self, source, image_hosts: frozenset[str] = frozenset()):
        super().__init__(source)
        self.image_hosts = image_hosts

    def __iter__(self) -> Iterator[dict]:
        open_links: list[bool] = []  # one entry per <a> start tag: was it kept?
        for token in super().__iter__():
            kind = token["type"]
            name = token.get("name")
            if name == "a" and kind == "StartTag":
                kept = self._fix_link(token)
                open_links.append(kept)
                if kept:
                    yield token
            elif name == "a" and kind == "EndTag":
                if open_links.pop() if open_links else False:
                    yield token
            elif name == "img" and kind in {"StartTag", "EmptyTag"}:
                yield from self._image(token, inside_link=any(open_links))
            else:
                yield token

    @staticmethod
    def _fix_link(token: dict) -> bool:
        attrs = token.get("data") or {}
        url = check_url(attrs.get((None, "href"), ""))
        if url is None:
            return False
        attrs[(None, "href")] = _as_attribute(url)
        attrs[(None, "rel")] = LINK_REL
        token["data"] = attrs
        return True

    def _image(self, token: dict, inside_link: bool) -> Iterator[dict]:
        attrs = token.get("data") or {}
        url = check_url(attrs.get((None, "src"), ""))
        if url is not None and is_allowed_image(url, self.image_hosts):
            attrs[(None, "src")] = _as_attribute(url)
            token["type"] = "EmptyTag"
            token["data"] = attrs
            yield token
            return
        # alt is raw attribute text (entities kept); as character data it must be decoded.
        alt = html.unescape(attrs.get((None, "alt"), "")).strip()
        if url is not None and not inside_link and _SCHEME.match(url):
            link = {(None, "href"): _as_attribute(url), (None, "rel"): LINK_REL}
            yield {"type": "StartTag", "name": "a", "namespace": None, "data": link}
            yield {"type": "Characters", "data": alt or IMAGE_PLACEHOLDER}
            yield {"type": "EndTag", "name": "a", "namespace": None}
        elif alt:
            yield {"type": "Characters", "data": alt}


# --------------------------------------------------------------------------- plain text

_BLOCK_TAGS = frozenset({"p", "br", "hr", "li", "blockquote", "pre", "tr", "td", "th", "h3", "h4", "h5", "h6", "div"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
