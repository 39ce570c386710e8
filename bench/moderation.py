"""Moderation benchmark: the keyword engine over generated Chinese text, pure (no database).

Run from the repository root: ``python bench/moderation.py``. Prints one figure per line on
stdout (``name = value unit``); progress notes go to stderr.

10,000 rules: Chinese words of 2–4 characters drawn uniformly from jieba's dictionary
(the block/review/censor/flag/tag actions mixed, a few allowlist entries). Text: about
10 M characters of sentences built from dictionary words drawn by their frequency, with
Chinese punctuation, cut into 2,000-character posts (what a check sees in the forum).

- moderation.chars_per_second: ``Engine.check`` with full normalisation (NFKC, case,
  t2s, separators dropped), offset mapping and verdicts (goal ≥ 4,000,000).
- moderation.vs_raw_automaton: that throughput ÷ the bare ahocorasick_rs automaton (same
  words, overlapping matches) over the same posts, un-normalised (goal ≥ 0.2).

The service (``forum.moderation.rules.check``) adds one primary-key read per check.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ahocorasick_rs  # noqa: E402
import jieba  # noqa: E402

from dangxiao.text.normalise import warm  # noqa: E402
from forum.moderation.engine import Engine, RuleSpec  # noqa: E402

RULES = 10_000
CHARS = int(os.environ.get("BENCH_MODERATION_CHARS", "10000000"))
POST = 2_000
PUNCTUATION = "，，，。。、！？；：“”"
ROUNDS = 3


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def dictionary() -> tuple[list[str], list[int]]:
    words, freqs = [], []
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as handle:
        for line in handle:
            word, freq, _ = line.split(" ")
            words.append(word)
            freqs.append(int(freq))
    return words, freqs


def generate(rng: random.Random) -> tuple[list[str], list[str]]:
    words, freqs = dictionary()
    chinese = [w for w in words if 2 <= len(w) <= 4 and all("\u4e00" <= c <= "\u9fff" for c in w)]
    rules = rng.sample(chinese, RULES)
    parts: list[str] = []
    size = 0
    while size < CHARS:
        for word in rng.choices(words, weights=freqs, k=100_000):
            parts.append(word)
            size += len(word)
            if rng.random() < 0.15:
                parts.append(rng.choice(PUNCTUATION))
                size += 1
    text = "".join(parts)[:CHARS]
    return rules, [text[i : i + POST] for i in range(0, len(text), POST)]


def best_of(run) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = random.Random(8)
    note("generating rules and text …")
    words, posts = generate(rng)
    total = sum(len(p) for p in posts)
    actions = ["block", "review", "censor", "flag"]
    specs = [RuleSpec(i, w, actions[i % 4]) for i, w in enumerate(words[:-200])]
    specs += [RuleSpec(i, w, "tag", category="bench") for i, w in enumerate(words[-200:-50], len(specs))]
    specs += [RuleSpec(i, w, "allow") for i, w in enumerate(words[-50:], len(specs) + 150)]
    note(f"{len(specs)} rules, {total:,} characters in {len(posts):,} posts; building …")
    warm()
    start = time.perf_counter()
    engine = Engine(specs)
    note(f"engine built in {time.perf_counter() - start:.2f} s")
    raw = ahocorasick_rs.AhoCorasick(words)

    matched = 0

    def ours() -> None:
        nonlocal matched
        matched = 0
        for post in posts:
            matched += len(engine.check(post).matches)

    def bare() -> None:
        for post in posts:
            raw.find_matches_as_indexes(post, overlapping=True)

    note("measuring the engine …")
    engine_seconds = best_of(ours)
    note(f"{matched:,} matches; measuring the bare automaton …")
    raw_seconds = best_of(bare)
    ours_rate = total / engine_seconds
    raw_rate = total / raw_seconds
    print(f"moderation.chars_per_second = {ours_rate:.0f} chars/s")
    print(f"moderation.vs_raw_automaton = {ours_rate / raw_rate:.2f} ratio")


if __name__ == "__main__":
    main()
