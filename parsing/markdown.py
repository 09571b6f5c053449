"""Markdown: ATX and setext headings, fenced code, lists and tables, inline syntax stripped."""

from __future__ import annotations

import re

from parsing.sections import RawSection, SectionBuilder, clean_heading

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_THEMATIC = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S")
_LIST_ITEM = re.compile(r"^\s*([-*+]|\d{1,9}[.)])\s+(.*)$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$")
_QUOTE = re.compile(r"^\s*(>\s?)+")
_FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.IGNORECASE)

# Inline syntax. Each pattern's body is a negated class, so a line full of
# unmatched markers is scanned once, never quadratically.
_INLINE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!\[([^\[\]]*)\]\([^()]*\)"), r"\1"),
    (re.compile(r"\[([^\[\]]+)\]\([^()]*\)"), r"\1"),
    (re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]"), r"\1"),
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),
    (re.compile(r"(`+)([^`]+)\1"), r"\2"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"\1"),
    (re.compile(r"__([^_]+)__"), r"\1"),
    (re.compile(r"(?<![\w*])\*([^*\s](?:[^*]*[^*\s])?)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_([^_\s](?:[^_]*[^_\s])?)_(?![\w_])"), r"\1"),
    (re.compile(r"~~([^~]+)~~"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),
)
# YAML front matter longer than this is not front matter.
_MAX_FRONT_MATTER_LINES = 100


def strip_inline(text: str) -> str:
    """Remove links, images, emphasis, code spans and inline HTML, keeping their text."""
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def parse_markdown(text: str) -> tuple[list[RawSection], str | None]:
    """Split Markdown into raw sections; returns (sections, title).

    The title is front matter's `title:` if present, else the first heading.
    """
    lines = text.split("\n")
    start, title = _front_matter(lines)
    parser = _Parser()
    for line in lines[start:]:
        parser.feed(line)
    parser.close()
    return parser.builder.sections, title or parser.builder.first_heading


class _Parser:
    """Line-by-line block parser; paragraphs are flushed at every block boundary."""

    def __init__(self) -> None:
        self.builder = SectionBuilder()
        self.paragraph: list[str] = []
        self.fence: str | None = None
        self.code: list[str] = []

    def feed(self, line: str) -> None:
        if self.fence is not None:
            self._in_fence(line)
            return
        fence = _FENCE.match(line)
        if fence:
            self.flush()
            self.fence = fence.group(1)
            return
        atx = _atx(line)
        if atx:
            self.flush()
            self.builder.heading(strip_inline(atx[1]), atx[0])
        elif self.paragraph and not _LIST_ITEM.match(self.paragraph[0]) and _SETEXT.match(line):
            heading = strip_inline(" ".join(self.paragraph))
            self.paragraph = []
            self.builder.heading(heading, 1 if line.strip()[0] == "=" else 2)
        elif not line.strip() or _THEMATIC.match(line) or _LINK_DEFINITION.match(line):
            self.flush()
        else:
            self._text_line(_QUOTE.sub("", line))

    def _in_fence(self, line: str) -> None:
        assert self.fence is not None
        closing = _FENCE.match(line)
        # A closing fence uses the same character, is at least as long, and has no info string.
        if (
            closing
            and closing.group(1)[0] == self.fence[0]
            and len(closing.group(1)) >= len(self.fence)
            and not line.strip().strip(self.fence[0])
        ):
            self.builder.code("\n".join(self.code))
            self.code, self.fence = [], None
            return
        self.code.append(line)

    def _text_line(self, line: str) -> None:
        if _TABLE_SEPARATOR.match(line):
            return
        if line.lstrip().startswith("|"):
            self.flush()
            cells = [strip_inline(cell.strip()) for cell in line.strip().strip("|").split("|")]
            self.builder.paragraph(" | ".join(cell for cell in cells if cell))
            return
        item = _LIST_ITEM.match(line)
        if item:
            self.flush()
            marker = item.group(1)
            prefix = "- " if marker in "-*+" else marker + " "
            self.paragraph = [prefix + item.group(2)]
            return
        self.paragraph.append(line.strip())

    def flush(self) -> None:
        if self.paragraph:
            self.builder.paragraph(strip_inline(" ".join(self.paragraph)))
            self.paragraph = []

    def close(self) -> None:
        """End of input: an unclosed fence still contributes its code."""
        self.flush()
        if self.fence is not None:
            self.builder.code("\n".join(self.code))


def _atx(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line ("## Title ##"), else None.

    Hand-written rather than a regex: a lazy pattern backtracks quadratically
    over a hostile line of a million spaces.
    """
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or not stripped.startswith("#"):
        return None
    rest = stripped.lstrip("#")
    level = len(stripped) - len(rest)
    if level > 6 or (rest and rest[0] not in " \t"):
        return None
    text = rest.strip()
    closed = text.rstrip("#")
    if not closed or closed[-1] in " \t":
        text = closed.strip()
    return level, text


def _front_matter(lines: list[str]) -> tuple[int, str | None]:
    """(index of the first content line, front matter title) for YAML front matter."""
    if not lines or lines[0].strip() != "---":
        return 0, None
    for index in range(1, min(len(lines), _MAX_FRONT_MATTER_LINES)):
        if lines[index].strip() in ("---", "..."):
            titles = [_FRONT_TITLE.match(line) for line in lines[1:index]]
            title = next((m.group(1).strip("\"'") for m in titles if m), None)
            return index + 1, clean_heading(title) if title else None
    return 0, None
