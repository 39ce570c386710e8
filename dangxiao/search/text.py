"""Search text, pure (no Flask, no database): the fold, index tokens, query parsing, the
match expressions for FTS5 and PostgreSQL, and highlighting on the original text.

Documents and queries go through the same steps — :func:`fold` (the moderation engine's
table: full width, case, traditional → simplified; punctuation → spaces) then jieba — so a
query in 組織關係 or ＰＤＦ meets a document in 组织关系 or pdf. The index holds the word
stream with long words replaced by their sub-words (组织关系转接 → 组织 关系 转接), then
the long words and other sub-words as extra tokens (:func:`doc_tokens`); a middle-sized
word (组织关系) is not a token there, so a query word matches its token OR the phrase of its
sub-words (:class:`Word`).

User input never becomes query syntax: every token is quoted for FTS5 ("…", inner quotes
doubled) and for tsquery ('…', quotes and backslashes escaped); the query's own syntax is
words, "quoted phrases" and -excluded words, parsed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from markupsafe import Markup, escape

from dangxiao.text import segment
from dangxiao.text.normalise import search_fold

MAX_TERMS = 64
MAX_SUBWORD = 9  # dictionary words up to 8 characters inside a longer word are indexed too (主题党日 in 主题党日活动)
MAX_QUERY_CHARS = 200  # the default cut (SEARCH_MAX_QUERY_CHARS); a pasted 10 KB stays harmless
_QUOTES = str.maketrans({c: '"' for c in "“”„‟「」『』＂〝〞"})
_MINUS = "-－−"
# A chunk of the query: an optional "-", then a quoted phrase (to the closing quote or the end
# of the line: an unbalanced quote) or a run of non-space characters up to the next quote.
_CHUNK = re.compile(r'([-－−]?)(?:"([^"\n]*)(?:"|$)|([^\s"]+))', re.MULTILINE)


def fold(text: str) -> str:
    """Same length as `text`: NFKC width, lower case, 繁→简; punctuation/spaces → " "."""
    return search_fold(text)


def _words(folded: str, *, fine: bool = False) -> list[str]:
    cut = segment.cut_for_search if fine else segment.cut
    return [token for token in cut(folded) if token.strip()]


def doc_tokens(text: str) -> str:
    """The space-joined index tokens of `text` (what the engines match).

    First the finest word stream — a long word replaced by its dictionary sub-words
    (党的纪律处分 → 纪律 处分, 组织关系转接 → 组织 关系 转接) — so a query's sub-word phrase
    finds it however jieba grouped the words around; then, after the stream, the long words
    themselves and their other dictionary sub-words (3 to 8 characters), matched as single tokens. Interleaving them as
    ``cut_for_search`` does (纪律 党的纪律 处分) would break the phrase 纪律 处分.
    """
    stream: list[str] = []
    extra: list[str] = []
    for token in _words(fold(text)):
        fine = _finest(token)
        stream.extend(fine)
        if fine != (token,):
            extra.append(token)
            extra.extend(
                gram
                for size in range(3, min(len(token), MAX_SUBWORD))
                for _, gram in _grams(token, size)
                if gram not in fine
            )
    return " ".join(stream + extra)


def _finest(token: str) -> tuple[str, ...]:
    """`token`'s dictionary 2-character sub-words in order (else its 3-character ones), or itself."""
    for size in (2, 3):
        if len(token) > size:
            grams = tuple(gram for _, gram in _grams(token, size))
            if grams:
                return grams
    return (token,)


def _grams(token: str, size: int) -> list[tuple[int, str]]:
    """(offset, sub-word) of the dictionary words of `size` characters inside `token`, as
    jieba's ``cut_for_search`` finds them (its frequency table, without a second segmentation)."""
    freq = segment.tokenizer().FREQ
    return [(i, token[i : i + size]) for i in range(len(token) - size + 1) if freq.get(token[i : i + size])]


@dataclass(frozen=True)
class Word:
    """A query word: its token, and its sub-words when they cover it (组织关系 → 组织, 关系), so
    a backend matches ``token OR phrase(parts)``; ``parts`` is empty when there is none."""

    token: str
    parts: tuple[str, ...] = ()

    def alternatives(self) -> list[list[str]]:
        """The token sequences (phrases) any of which matches this word."""
        return [[self.token], list(self.parts)] if self.parts else [[self.token]]


@dataclass
class ParsedQuery:
    words: list[Word] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    excluded: list[Word] = field(default_factory=list)
    raw_terms: list[str] = field(default_factory=list)  # folded strings to highlight

    @property
    def empty(self) -> bool:
        """Nothing to match: a query of excluded words only counts as empty too."""
        return not (self.words or self.phrases)


def _parts(token: str) -> tuple[str, ...]:
    """The sub-words ``cut_for_search`` gives `token` inside any longer word: its dictionary
    2-grams (then 3-grams) in order — kept only when they cover every character, since a phrase
    of them stands for the word (介绍信's lone 介绍 would match far more than 介绍信)."""
    if len(token) < 4:  # a 2- or 3-character word is itself a sub-word of any longer word
        return ()
    for size in (2, 3):
        grams = _grams(token, size)
        covered = set()
        for i, _ in grams:
            covered.update(range(i, i + size))
        if grams and len(covered) == len(token):
            return tuple(gram for _, gram in grams)
    return ()


def _word(tokens: list[str]) -> Word:
    """An excluded chunk as one Word: "-党员活动" excludes 党员活动 or the phrase 党员 活动; with
    Latin words in it the joined form would be a different word, so it is the phrase only (a
    quoted string of several tokens is a phrase on every engine)."""
    if len(tokens) == 1:
        return Word(tokens[0], _parts(tokens[0]))
    if any(_ASCII_WORD.search(token) for token in tokens):
        return Word(" ".join(tokens))
    return Word("".join(tokens), tuple(tokens))


def parse(q: str, *, max_chars: int = MAX_QUERY_CHARS) -> ParsedQuery:
    """Words, "quoted phrases" (an unbalanced quote runs to the end of the line) and -excluded
    words or phrases; Chinese without spaces is segmented like documents are. At most
    `MAX_TERMS` terms; only punctuation gives an empty query."""
    parsed = ParsedQuery()
    if not q:
        return parsed
    text = q[:max_chars].translate(_QUOTES)
    count = 0
    seen: set[str] = set()

    def highlight_term(term: str) -> None:
        if term not in seen:
            seen.add(term)
            parsed.raw_terms.append(term)

    for match in _CHUNK.finditer(text):
        if count >= MAX_TERMS:
            break
        minus, phrase, bare = match.groups()
        folded = fold(phrase if phrase is not None else bare)
        tokens = _words(folded)
        if not tokens:
            continue
        if minus:
            parsed.excluded.append(_word(tokens))
            count += 1
        elif phrase is not None and len(tokens) > 1:
            parsed.phrases.append(tokens)
            highlight_term(" ".join(folded.split()))
            count += 1
        else:  # a bare chunk (or a one-word phrase): its words, each matched on its own
            for token in tokens[: MAX_TERMS - count]:
                parsed.words.append(Word(token, _parts(token)))
                highlight_term(token)
                count += 1
    return parsed


def _phrase_variants(tokens: list[str]) -> list[list[str]]:
    """A phrase as typed (cut tokens) and with each word replaced by its sub-words: where the
    document's word was longer (办理组织关系转接), the index holds 办理 组织 关系 …"""
    finer: list[str] = []
    for token in tokens:
        finer.extend(_finest(token))
    return [tokens, finer] if finer != tokens else [tokens]


def term_groups(parsed: ParsedQuery) -> tuple[list[list[list[str]]], list[list[list[str]]]]:
    """(positive, excluded) terms, each a list of alternative phrases (token lists)."""
    positive = [word.alternatives() for word in parsed.words]
    positive += [_phrase_variants(tokens) for tokens in parsed.phrases]
    return positive, [word.alternatives() for word in parsed.excluded]


def _fts5_string(tokens: list[str]) -> str:
    return '"' + " ".join(tokens).replace('"', '""') + '"'


def _fts5_group(alternatives: list[list[str]]) -> str:
    if len(alternatives) == 1:
        return _fts5_string(alternatives[0])
    return "(" + " OR ".join(_fts5_string(tokens) for tokens in alternatives) + ")"


def fts5_match(parsed: ParsedQuery) -> str | None:
    """The FTS5 MATCH expression over all columns; None when there is nothing to look for.

    Every token is inside a quoted string, so ``* NEAR : ^ ( )`` typed by a user are text,
    never operators; a quoted string of several tokens is an FTS5 phrase."""
    positive, excluded = term_groups(parsed)
    if not positive:
        return None
    expression = "(" + " AND ".join(_fts5_group(group) for group in positive) + ")"
    for group in excluded:
        expression += " NOT " + _fts5_group(group)
    return expression


def _lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _ts_group(alternatives: list[list[str]]) -> str:
    phrases = [" <-> ".join(_lexeme(token) for token in tokens) for tokens in alternatives]
    return "(" + " | ".join(f"({phrase})" if len(alternatives) > 1 else phrase for phrase in phrases) + ")"


def tsquery(parsed: ParsedQuery) -> str | None:
    """The text for ``to_tsquery('simple', …)``; None when there is nothing to look for (a query
    of excluded words only matches nothing, as on the other engines)."""
    positive, excluded = term_groups(parsed)
    if not positive:
        return None
    parts = [_ts_group(group) for group in positive] + ["!" + _ts_group(group) for group in excluded]
    return " & ".join(parts)


_ASCII_WORD = re.compile(r"[a-z0-9]")


@lru_cache(maxsize=256)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for all terms, longest first; inside a term up to three spaces (what the fold
    made of punctuation: 组织、关系) may stand between characters; ASCII words match whole."""
    alternatives = []
    for term in sorted({"".join(fold(t).split()) for t in terms}, key=len, reverse=True):
        if not term:
            continue
        body = " {0,3}".join(re.escape(ch) for ch in term)
        if _ASCII_WORD.match(term[0]):
            body = "(?<![a-z0-9])" + body
        if _ASCII_WORD.match(term[-1]):
            body += "(?![a-z0-9])"
        alternatives.append(body)
    return re.compile("|".join(alternatives)) if alternatives else None


def _spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    pattern = _pattern(tuple(terms)) if terms else None
    return [m.span() for m in pattern.finditer(fold(text))] if pattern else []


def _marked(text: str, spans: list[tuple[int, int]], start: int, end: int) -> Markup:
    out = []
    at = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        out.append(escape(text[at:s]))
        out.append(Markup("<mark>") + escape(text[s:e]) + Markup("</mark>"))
        at = e
    out.append(escape(text[at:end]))
    return Markup("").join(out)


def highlight(text: str, terms: list[str], *, width: int = 120) -> Markup:
    """An escaped snippet of `text` around the first match, every match in <mark>; "…" where
    cut. Without a match: the first `width` characters."""
    text = text or ""
    spans = _spans(text, terms)
    if spans:
        first = spans[0][0]
        start = max(0, min(first - width // 4, len(text) - width))
    else:
        start = 0
    end = min(len(text), start + width)
    snippet = _marked(text, spans, start, end)
    return Markup("").join(["…" if start > 0 else "", snippet, "…" if end < len(text) else ""])


def highlight_title(title: str, terms: list[str]) -> Markup:
    """The whole title, escaped, matches in <mark>."""
    title = title or ""
    return _marked(title, _spans(title, terms), 0, len(title))
