"""The one text normalisation for matching, shared by moderation and search: pure, no Flask.

Each character of the input is folded on its own, through one precomputed table, so a
normalised string maps back to the original character by character:

* NFKC: full-width letters/digits, circled and parenthesised digits (① ⑴ ⒈ → 1);
* lower case;
* traditional → simplified by OpenCC's character table (t2s, one character at a time:
  phrase conversion would break the one-to-one map and adds nothing for matching);
* dropped: punctuation, symbols, separators (spaces), control, format (zero-width,
  BOM, bidi) and combining marks — what people insert between the characters of a word.

Why a table and ``str.translate``: the work then runs in C (~20 M characters/s here),
far faster than a Python loop over characters. The table is a list indexed by code point
(a dict miss raises KeyError per character, ~2× slower). Its output keeps the original's
alignment: a dropped character becomes a NUL mark (removed afterwards by ``replace``), so
the offset map is just where the marks were — computed in C by ``split`` and only when a
match needs mapping. Characters folded to more than one character (``⑽`` → ``10``,
``㎏`` → ``kg``) are rare; they are marked too and such a text takes a slower general map.
The table takes about a second to build, once per process (see :func:`warm`).
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from itertools import accumulate

# Code points covered by the table (BMP, SMP, CJK extension B…); beyond it characters are kept.
TABLE_SIZE = 0x30000
# Dropped: punctuation (P*), symbols (S*), separators (Z*), control/format/private/unassigned
# (C*) and combining marks (Mn, Me).
_DROP_CATEGORIES = frozenset("Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co Cn Mn Me".split())

_lock = threading.Lock()
_table: list | None = None
_kinds: list | None = None  # "k" / "d" / "e" per code point (see _build)
_NOT_ONE = re.compile("[de]")
# In the table's output: a dropped character, and the mark before an expansion. Both are
# control characters, which the table itself drops, so the input cannot produce them.
DROPPED = "\x00"
EXPANDED = "\x01"


def _keep(ch: str) -> bool:
    return unicodedata.category(ch) not in _DROP_CATEGORIES


def _fold(ch: str) -> str:
    """NFKC then lower case, dropping what is not a letter or digit (before t2s)."""
    folded = unicodedata.normalize("NFKC", ch).lower()
    return "".join(c for c in folded if _keep(c))


def _t2s_chars(chars: list[str]) -> list[str]:
    """OpenCC t2s for single characters (one per line, so no phrase spans two)."""
    import opencc

    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # never seen; keep the characters rather than misalign
        return chars
    return [new if len(new) == 1 else old for old, new in zip(chars, converted, strict=True)]


def _build() -> tuple[list, list]:
    """(folding table, kinds table): kinds maps each character to "k" (one character out),
    "d" (dropped) or "e" (expanded), so the few non-"k" positions are found by a regex over
    an ASCII string instead of a class of thousands of characters (which sre matches slowly)."""
    table: list = list(range(TABLE_SIZE))
    kinds: list = ["k"] * TABLE_SIZE
    han: list[int] = []
    for cp in range(TABLE_SIZE):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            table[cp], kinds[cp] = DROPPED, "d"
            continue
        folded = _fold(ch)
        if folded == ch:
            if unicodedata.name(ch, "").startswith("CJK"):
                han.append(cp)
            continue
        if len(folded) == 1:
            table[cp] = folded
        elif folded:
            table[cp], kinds[cp] = EXPANDED + folded, "e"
        else:
            table[cp], kinds[cp] = DROPPED, "d"
    chars = [chr(cp) for cp in han]
    for cp, simple in zip(han, _t2s_chars(chars), strict=True):
        if simple != chr(cp):
            table[cp] = simple
    return table, kinds


def _tables() -> tuple[list, list]:
    global _table, _kinds
    if _table is None:
        with _lock:
            if _table is None:
                built, kinds = _build()
                _kinds = kinds
                _table = built
    assert _kinds is not None
    return _table, _kinds


def warm() -> None:
    """Build the table now (about a second) rather than on the first check."""
    _tables()


def normalise_text(text: str) -> str:
    """The folded string only (rule words, search terms)."""
    return _strip(text.translate(_tables()[0]))


def _strip(marked: str) -> str:
    folded = marked.replace(DROPPED, "")
    return folded.replace(EXPANDED, "") if EXPANDED in folded else folded


def fold_char(ch: str) -> str:
    """One character folded ("" when dropped): used to look at a match's neighbours."""
    return _strip(ch.translate(_tables()[0]))


class Normalised:
    """A folded string and what is needed to map its offsets back to the original.

    Usual case (no expansion): the table's output is aligned with the original, one
    character each, dropped ones marked; the normalised index of each dropped character
    (``cuts``) comes from splitting at the marks, in C. Expansions (rare) take the slower,
    general map built from the kinds table.
    """

    __slots__ = ("original", "text", "_marked", "_cuts", "_starts", "_points")

    def __init__(self, original: str, marked: str):
        self.original = original
        self._marked: str | None = marked
        self.text = marked.replace(DROPPED, "")
        self._cuts: list[int] | None = None
        self._starts: list[int] | None = None
        self._points: list[tuple[int, int, int]] | None = None
        if EXPANDED in self.text:
            self.text = self.text.replace(EXPANDED, "")
            self._index()

    def _index(self) -> None:
        """(normalised start, original index, folded length) for each dropped/expanded character."""
        table, kinds = _tables()
        starts: list[int] = []
        points: list[tuple[int, int, int]] = []
        shift = 0  # normalised index - original index, so far
        for m in _NOT_ONE.finditer(self.original.translate(kinds)):
            i = m.start()
            out = table[ord(self.original[i])]
            length = 0 if out == DROPPED else len(out) - 1
            starts.append(i + shift)
            points.append((i + shift, i, length))
            shift += length - 1
        self._starts, self._points = starts, points

    def cuts(self) -> list[int]:
        """Normalised index before which each dropped character stood (sorted)."""
        if self._cuts is None:
            parts = self._marked.split(DROPPED) if self._marked else [""]
            self._cuts = list(accumulate(map(len, parts[:-1])))
            self._marked = None
        return self._cuts

    def to_original(self, index: int) -> int:
        """Original index of the character at normalised `index`."""
        if self._points is None:
            return index + bisect.bisect_right(self.cuts(), index)
        k = bisect.bisect_right(self._starts, index)  # dropped/expanded characters at or before `index`
        if k == 0:
            return index
        norm_start, orig, length = self._points[k - 1]
        if index < norm_start + length:
            return orig  # inside an expansion (⑽ → "10")
        return index - (norm_start + length - (orig + 1))  # the shift after that character

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of the normalised [start, end) (end exclusive, end > start)."""
        return self.to_original(start), self.to_original(end - 1) + 1

    def spans(self, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """:meth:`span` of many pairs at once (the usual case inlined: no expansions)."""
        if self._points is not None:
            return [self.span(start, end) for start, end in pairs]
        cuts = self.cuts()
        if not cuts:
            return pairs
        where = bisect.bisect_right
        return [(start + where(cuts, start), end + where(cuts, end - 1)) for start, end in pairs]


def normalise(text: str) -> Normalised:
    """Fold `text` for matching; offsets map back with :meth:`Normalised.span`."""
    return Normalised(text, text.translate(_tables()[0]))


# --- The search fold: same length as its input -------------------------------------------
# Search highlights on the original text, so its fold must keep every offset: the same table
# per character, but a dropped character becomes a space (a word break for jieba) and an
# expansion (⑽ → "10") keeps the original character. Built from the moderation table, once.
_search_table: list | None = None


def _search_tables() -> list:
    global _search_table
    if _search_table is None:
        table, _ = _tables()
        with _lock:
            if _search_table is None:
                built: list = list(table)
                for cp, out in enumerate(table):
                    if isinstance(out, str):
                        if out == DROPPED:
                            built[cp] = " "
                        elif out.startswith(EXPANDED):
                            built[cp] = cp
                _search_table = built
    return _search_table


def search_fold(text: str) -> str:
    """`text` folded like :func:`normalise_text` but one character out per character in (so an
    offset in the result is an offset in `text`): dropped characters become spaces."""
    return text.translate(_search_tables())
