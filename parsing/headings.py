"""Heuristics that recognise heading lines in text without markup (plain text, PDF)."""

from __future__ import annotations

import re

from parsing.words import count_words

# "1.", "2.3", "2.3." or "1" followed by a capitalised title; at most 6 levels.
_NUMBERED = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){0,5})\.?\s+(?=[^\W\d_])(\S.*)$")
# Headings label content; a line longer than this is a sentence.
_MAX_HEADING_WORDS = 12
# ALL-CAPS and Title Case lines are weaker signals, so they must be shorter.
_MAX_STYLED_WORDS = 8
# Words that stay lowercase in Title Case ("Leave of Absence and Pay").
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or", "per", "the", "to"}
)
_TERMINAL = (".", ",", ";", ":", "。", "、", "．", "，")


def numbered_depth(line: str) -> int | None:
    """Depth of a numbered heading ("2.3 Title" -> 2), or None if not numbered."""
    match = _NUMBERED.match(line)
    if match is None:
        return None
    return min(match.group(1).count(".") + 1, 6)


def plausible(line: str) -> bool:
    """A heading is short, contains letters, and does not end like a sentence."""
    words = count_words(line)
    return 0 < words <= _MAX_HEADING_WORDS and not line.endswith(_TERMINAL) and any(ch.isalpha() for ch in line)


def is_all_caps(line: str) -> bool:
    """Short line whose cased letters (at least two) are all upper case."""
    cased = [ch for ch in line if ch.isupper() or ch.islower()]
    return len(cased) >= 2 and count_words(line) <= _MAX_STYLED_WORDS and all(ch.isupper() for ch in cased)


def is_title_case(line: str) -> bool:
    """Short line whose first word and every non-small word start upper case."""
    words = [w.strip("()[]\"'“”‘’") for w in line.split()]
    words = [w for w in words if w]
    if not words or len(words) > _MAX_STYLED_WORDS or not words[0][:1].isupper():
        return False
    return all(w[:1].isupper() or not w[:1].isalpha() or w.lower() in _SMALL_WORDS for w in words)


def heading_level(line: str, *, title_case: bool) -> int | None:
    """Level 1..6 if `line` looks like a heading by its text alone, else None.

    Numbered lines get their numbering depth, ALL-CAPS lines level 1, and (when
    `title_case` is allowed) Title Case lines level 2. Context checks (blank line
    before, body after) are the caller's job.
    """
    if not plausible(line):
        return None
    depth = numbered_depth(line)
    if depth is not None:
        return depth
    if is_all_caps(line):
        return 1
    if title_case and is_title_case(line):
        return 2
    return None
