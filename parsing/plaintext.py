"""Plain text: heuristic headings, blank-line paragraphs, "Part N" fallback."""

from __future__ import annotations

import re

from parsing.headings import is_all_caps, numbered_depth, plausible
from parsing.sections import RawSection, SectionBuilder

_UNDERLINE = re.compile(r"^\s*(={3,}|-{3,})\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+•◦▪‣]|\d{1,3}[.)])\s+")


def parse_text(text: str) -> tuple[list[RawSection], str | None]:
    """Split plain text into raw sections; returns (sections, first heading).

    Headings are numbered lines ("1.", "2.3 Title"), short ALL-CAPS lines and
    lines underlined with === or ---, each standing alone (blank line or another
    heading before it) with body text after it. Without any heading there is a
    single section with heading None (the caller numbers its parts).
    """
    lines = [line.strip() for line in text.split("\n")]
    following = _next_nonblank(lines)
    builder = SectionBuilder()
    paragraph: list[str] = []
    previous_blank = True
    index = 0
    while index < len(lines):
        line = lines[index]
        level, consumed = _heading_at(lines, index, following[index], previous_blank)
        if level is not None:
            builder.paragraph(" ".join(paragraph))
            paragraph = []
            builder.heading(line, level)
            previous_blank = True  # a heading may directly follow another heading
        elif not line or _UNDERLINE.match(line):
            builder.paragraph(" ".join(paragraph))
            paragraph, previous_blank = [], True
        else:
            if _BULLET.match(line):
                builder.paragraph(" ".join(paragraph))
                paragraph = [_as_bullet(line)]
            else:
                paragraph.append(line)
            previous_blank = False
        index += consumed
    builder.paragraph(" ".join(paragraph))
    return builder.sections, builder.first_heading


def _heading_at(lines: list[str], index: int, following: str | None, previous_blank: bool) -> tuple[int | None, int]:
    """(level, lines consumed) when lines[index] is a heading, else (None, 1).

    `following` is the next non-blank line after it, if any.
    """
    line = lines[index]
    if not line or not previous_blank or _UNDERLINE.match(line):
        return None, 1
    underline = _UNDERLINE.match(lines[index + 1]) if index + 1 < len(lines) else None
    if underline and plausible(line):
        return (1 if underline.group(1)[0] == "=" else 2), 2
    if following is None or not plausible(line):
        return None, 1
    depth = numbered_depth(line)
    if depth is not None:
        # "1. Apples / 2. Pears" is a list, not two headings.
        return (None, 1) if numbered_depth(following) == depth else (depth, 1)
    return (1, 1) if is_all_caps(line) and not _BULLET.match(line) else (None, 1)


def _next_nonblank(lines: list[str]) -> list[str | None]:
    """For each index, the next non-blank line after it (one backward pass, not O(n²))."""
    following: list[str | None] = [None] * len(lines)
    upcoming: str | None = None
    for index in range(len(lines) - 1, -1, -1):
        following[index] = upcoming
        upcoming = lines[index] or upcoming
    return following


def _as_bullet(line: str) -> str:
    marker = _BULLET.match(line)
    rest = line[marker.end() :] if marker else line
    if marker and marker.group(0).strip()[0].isdigit():
        return line.strip()  # keep "1." numbering, it carries meaning
    return "- " + rest.strip()
