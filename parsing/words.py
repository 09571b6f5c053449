"""Word counting that also works for scripts written without spaces."""

from __future__ import annotations

import re

# Chinese and Japanese are written without spaces, so each ideograph or kana
# counts as one word; every other run of non-space characters is one word.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")
# Space-delimited tokens of punctuation only ("-", "|", "--"): not words.
_PUNCTUATION = re.compile(r"(?<!\S)[^\w\s]+(?!\S)")


def count_words(text: str) -> int:
    """Number of words in `text`: CJK characters count one each, punctuation-only tokens none."""
    tokens = sum(1 for _ in _WORD.finditer(text))
    return tokens - sum(1 for _ in _PUNCTUATION.finditer(text))


def word_spans(text: str) -> tuple[list[int], list[int]]:
    """Start and end offsets of every token in `text`.

    Punctuation-only tokens are included, so limits enforced with these spans
    are never exceeded by `count_words`.
    """
    starts: list[int] = []
    ends: list[int] = []
    for match in _WORD.finditer(text):
        starts.append(match.start())
        ends.append(match.end())
    return starts, ends
