"""Verdicts over a rule set: which rules fire in a text, where, and what follows. Pure.

A rule's word and the text are folded by :mod:`dangxiao.text.normalise`, matched by
the automaton, and every match is mapped back to its span in the ORIGINAL text (what a
moderator sees highlighted, what censoring replaces).

* ``allow`` entries cancel any match they cover (代考证 cancels 代考 inside it).
* Rules starting/ending with a Latin letter or digit match whole words only: the original
  character just before/after the match must not be one (``ass`` does not fire in
  ``class``, but does in ``my a.s.s``).
* Verdict: block > review > flag > censor > allow; ``tag`` matches add their category to
  ``tags`` and do not change the action; ``censored`` has each censor span replaced by ＊
  per original character.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dangxiao.text.normalise import fold_char, normalise, normalise_text
from forum.moderation.matcher import Matcher

ACTIONS = ("block", "review", "flag", "censor", "tag", "allow")
SCOPES = ("all", "forum", "help", "live")
VERDICT_ORDER = {"allow": 0, "censor": 1, "flag": 2, "review": 3, "block": 4}
CENSOR_CHAR = "＊"


@dataclass(frozen=True)
class RuleSpec:
    """What the engine needs of a rule (the service builds these from table rows)."""

    id: int | None
    word: str
    action: str
    scope: str = "all"
    category: str = ""


class Match(NamedTuple):
    """One rule firing at [start, end) of the original text (a tuple: made by the thousand)."""

    rule_id: int | None
    rule: str
    action: str
    start: int
    end: int
    text: str
    category: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "action": self.action, "start": self.start, "end": self.end, "text": self.text}


@dataclass
class Verdict:
    action: str
    matches: list[Match] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    text: str = ""  # the original text

    @property
    def censored(self) -> str:
        """The text with each censor match replaced by ＊ per character (built on demand)."""
        return censor(self.text, [(m.start, m.end) for m in self.matches if m.action == "censor"])

    @property
    def rule_ids(self) -> list[int]:
        """Ids of the rules that fired (for the hit counter), each once."""
        return sorted({m.rule_id for m in self.matches if m.rule_id is not None})

    def as_dict(self) -> dict[str, Any]:
        """The CLI contract: {"action", "matches": [{rule, action, start, end, text}], "tags"}."""
        return {"action": self.action, "matches": [m.as_dict() for m in self.matches], "tags": list(self.tags)}


def _is_word_char(ch: str) -> bool:
    """A Latin letter or digit once folded (full-width ones included)."""
    folded = fold_char(ch)
    return len(folded) >= 1 and folded[0].isalnum() and (folded[0].isascii() or "\u00c0" <= folded[0] <= "\u024f")


def _latin(ch: str) -> bool:
    return ch.isalnum() and (ch.isascii() or "\u00c0" <= ch <= "\u024f")


class Engine:
    """An immutable compiled rule set; ``check`` may be called from any thread."""

    def __init__(self, rules: Iterable[RuleSpec]):
        by_pattern: dict[str, list[RuleSpec]] = {}
        for spec in rules:
            pattern = normalise_text(spec.word)
            if pattern:
                by_pattern.setdefault(pattern, []).append(spec)
        self.patterns = list(by_pattern)
        self._rules = [tuple(by_pattern[p]) for p in self.patterns]
        self._edges = [(_latin(p[0]), _latin(p[-1])) for p in self.patterns]
        self._matcher = Matcher(self.patterns)

    def __len__(self) -> int:
        return sum(len(r) for r in self._rules)

    def check(self, text: str, scope: str | None = None) -> Verdict:
        """The verdict for `text` under the rules of `scope` ("all"/None: every rule)."""
        folded = normalise(text)
        found = self._matcher.find(folded.text)
        if not found:
            return Verdict("allow", [], [], text)
        every = scope in (None, "all")
        rules, edges, span = self._rules, self._edges, folded.span
        allows: list[tuple[int, int]] = []
        hits: list[tuple[int, int, int, RuleSpec]] = []
        for index, start, end in found:
            left, right = edges[index]
            if left or right:  # a Latin word: whole words of the original only
                o_start, o_end = span(start, end)
                if left and o_start > 0 and _is_word_char(text[o_start - 1]):
                    continue
                if right and o_end < len(text) and _is_word_char(text[o_end]):
                    continue
            for spec in rules[index]:
                if not every and spec.scope != "all" and spec.scope != scope:
                    continue
                if spec.action == "allow":
                    allows.append((start, end))
                else:
                    hits.append((start, -end, len(hits), spec))
        hits.sort()  # by start, longest first (the running number keeps specs out of the comparison)
        if allows:
            hits = [h for h in hits if not any(a <= h[0] and -h[1] <= b for a, b in allows)]
        spans = folded.spans([(h[0], -h[1]) for h in hits])
        matches = [
            Match(h[3].id, h[3].word, h[3].action, o_start, o_end, text[o_start:o_end], h[3].category)
            for (o_start, o_end), h in zip(spans, hits, strict=True)
        ]
        return _verdict(text, matches)


def _verdict(text: str, matches: list[Match]) -> Verdict:
    action = "allow"
    rank = 0
    tags: list[str] = []
    for m in matches:
        if m.action == "tag":
            if m.category and m.category not in tags:
                tags.append(m.category)
        elif VERDICT_ORDER[m.action] > rank:
            action, rank = m.action, VERDICT_ORDER[m.action]
    return Verdict(action, matches, tags, text)


def censor(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each [start, end) replaced by one ＊ per character."""
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = CENSOR_CHAR * (end - start)
    return "".join(chars)  # overlapping spans simply censor their union
