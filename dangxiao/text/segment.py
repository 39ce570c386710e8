"""Chinese word segmentation: one jieba tokenizer per process, with the party-term dictionary.

Why one shared tokenizer: building jieba's prefix dictionary takes ~1 s (0.1 s from its
cache file) and ~50 MB, so hot topics, search and anything else that segments share the
same instance, built on first use under a lock (threads of one worker must not build it
twice). The shipped user dictionary (``party_terms.txt``: 三会一课, 组织关系转接,
流动党员活动证 …) gives those terms a high frequency so they come out whole instead of
as 三/会/一/课 — a hot topic "组织关系" and "转接" apart would mean nothing.

jieba caches its prefix dictionary in the system temp dir; the cache file is named after
the jieba version and the dictionary file (path, size, mtime), in our own sub-directory,
and jieba writes it through a temp file and an atomic rename, so parallel test workers
and processes never read a half-written cache. HMM (jieba's guess at unknown words) is
off by default: it roughly halves the speed, and our texts are short questions where the
dictionary plus the party terms find the words that matter.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading

import jieba

TERMS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "party_terms.txt")

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _cache_name() -> str:
    """A cache file per jieba version and main dictionary, so an upgrade never reads a stale one."""
    path = os.path.join(os.path.dirname(os.path.abspath(jieba.__file__)), jieba.DEFAULT_DICT_NAME)
    try:
        stat = os.stat(path)
        stamp = f"{path}:{stat.st_size}:{int(stat.st_mtime)}"
    except OSError:
        stamp = path
    digest = hashlib.md5(f"{jieba.__version__}:{stamp}".encode(), usedforsecurity=False).hexdigest()[:16]
    return f"jieba.{digest}.cache"


def _build() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)  # it logs "Building prefix dict…" at DEBUG to stderr otherwise
    tok = jieba.Tokenizer()
    tok.tmp_dir = os.path.join(tempfile.gettempdir(), "dangxiao-jieba")
    os.makedirs(tok.tmp_dir, exist_ok=True)
    tok.cache_file = _cache_name()
    tok.initialize()
    with open(TERMS_FILE, encoding="utf-8") as f:  # jieba leaves a file it opened itself unclosed
        tok.load_userdict(f)
    return tok


def tokenizer() -> jieba.Tokenizer:
    """The process's tokenizer, built (with the party terms) on first use."""
    global _tokenizer
    tok = _tokenizer
    if tok is None:
        with _lock:
            if _tokenizer is None:
                _tokenizer = _build()
            tok = _tokenizer
    return tok


def warm_up() -> threading.Thread:
    """Build the tokenizer in a background thread, so the first member typing a request (its
    suggestions segment the text) does not wait ~2 s for jieba's dictionary."""
    thread = threading.Thread(target=tokenizer, name="jieba-warm-up", daemon=True)
    thread.start()
    return thread


def cut(text: str, hmm: bool = False) -> list[str]:
    """Tokens of `text` in order, punctuation and spaces included (callers filter what they need)."""
    if not text:
        return []
    return tokenizer().lcut(text, HMM=hmm)


def cut_for_search(text: str, hmm: bool = False) -> list[str]:
    """Finer tokens for an index: long words also yield their dictionary sub-words (组织关系转接 → 组织, 关系 …)."""
    if not text:
        return []
    return tokenizer().lcut_for_search(text, HMM=hmm)


def party_terms() -> list[str]:
    """The shipped user dictionary's words (for tests and for anyone who wants to highlight them)."""
    with open(TERMS_FILE, encoding="utf-8") as f:
        return [line.split()[0] for line in f if line.strip()]
