"""The shared jieba segmenter: party terms stay whole, one tokenizer per process, its own cache file."""

from __future__ import annotations

import os
import tempfile
import threading

from dangxiao.text import segment


def test_party_terms_are_kept_whole():
    text = "我是流动党员，想办理组织关系转接，介绍信有效期多久？三会一课和主题党日怎么参加，流动党员活动证在哪领"
    tokens = segment.cut(text)
    for term in ("流动党员", "组织关系转接", "介绍信", "三会一课", "主题党日", "流动党员活动证"):
        assert term in tokens
    assert "".join(tokens) == text  # nothing lost or added
    # Every shipped term survives in a sentence around it.
    split = [t for t in segment.party_terms() if t not in segment.cut(f"关于{t}的问题")]
    assert split == []
    assert len(segment.party_terms()) >= 60


def test_one_tokenizer_per_process_even_from_threads():
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(segment.tokenizer())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(tok) for tok in seen}) == 1
    tok = seen[0]
    assert tok.tmp_dir == os.path.join(tempfile.gettempdir(), "dangxiao-jieba")
    assert os.path.isfile(os.path.join(tok.tmp_dir, tok.cache_file))
    assert segment.cut("") == [] and segment.cut_for_search("") == []
    assert {"组织", "关系", "组织关系转接"} <= set(segment.cut_for_search("组织关系转接"))
