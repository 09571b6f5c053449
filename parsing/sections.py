"""Format-independent section building, splitting and limit enforcement."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from parsing.model import SPLIT_HINT, Limits, RejectedFile, Section
from parsing.words import count_words, word_spans

# A heading is a label, not content; a hostile 1 MB "heading" is cut to this.
_MAX_HEADING_CHARS = 200
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")
_LINE_END = re.compile(r"\n")


@dataclass
class RawSection:
    """A section as extracted: heading may be missing, paragraphs already normalised."""

    heading: str | None
    level: int
    paragraphs: list[str] = field(default_factory=list)


def collapse(text: str) -> str:
    """Collapse every whitespace run (newlines included) to one space and strip."""
    return " ".join(text.split())


class SectionBuilder:
    """Accumulates headings and paragraphs in document order.

    Text before the first heading lands in a section whose heading is None;
    `finish` names it.
    """

    def __init__(self) -> None:
        self.sections: list[RawSection] = [RawSection(None, 1)]
        self.first_heading: str | None = None

    def heading(self, text: str, level: int) -> None:
        """Start a new section; blank headings are ignored."""
        heading = clean_heading(text)
        if not heading:
            return
        if self.first_heading is None:
            self.first_heading = heading
        self.sections.append(RawSection(heading, min(max(level, 1), 6)))

    def paragraph(self, text: str) -> None:
        """Add a prose paragraph (whitespace collapsed); blank ones are ignored."""
        collapsed = collapse(text)
        if collapsed:
            self.sections[-1].paragraphs.append(collapsed)

    def code(self, text: str) -> None:
        """Add a preformatted paragraph, keeping line breaks and indentation."""
        lines = [line.rstrip() for line in text.split("\n")]
        body = "\n".join(line for line in lines if line.strip())
        if body:
            self.sections[-1].paragraphs.append(body)


def clean_heading(text: str) -> str:
    """Whitespace-collapsed heading, cut to a sane display length."""
    heading = collapse(text)
    if len(heading) > _MAX_HEADING_CHARS:
        heading = heading[: _MAX_HEADING_CHARS - 1].rstrip() + "…"
    return heading


def finish(
    raw: list[RawSection], name: str, limits: Limits, intro: str = "Introduction", *, numbered_parts: bool = False
) -> list[Section]:
    """Turn raw sections into final `Section`s and enforce every text limit.

    Sections without text are dropped; raises RejectedFile "too_long"
    (characters or section count) or "no_text" (fewer than `limits.min_words`
    words). Long sections are split into parts of at most
    `limits.max_section_words` words named "Heading", "Heading (part 2)", ...
    A section without heading is headed `intro`, or, with `numbered_parts`,
    its parts are headed "Part 1", "Part 2", ...
    """
    kept = [section for section in raw if section.paragraphs]
    check_chars(sum(len("\n\n".join(s.paragraphs)) for s in kept), name, limits)
    words = sum(count_words(p) for s in kept for p in s.paragraphs)
    if words < limits.min_words:
        raise too_few_words(name, words, limits)
    sections: list[Section] = []
    for section in kept:
        for number, part in enumerate(split_paragraphs(section.paragraphs, limits.max_section_words), 1):
            sections.append(
                Section(_part_label(section.heading, intro, number, numbered_parts), section.level, "\n\n".join(part))
            )
        if len(sections) > limits.max_sections:
            raise RejectedFile(
                f"{name} splits into more than {limits.max_sections:,} sections, "
                "which is more than orgtune accepts in one document.",
                SPLIT_HINT,
                code="too_long",
            )
    return sections


def _part_label(heading: str | None, intro: str, number: int, numbered_parts: bool) -> str:
    if heading is None and numbered_parts:
        return f"Part {number}"
    label = heading or intro
    return label if number == 1 else f"{label} (part {number})"


def check_chars(chars: int, name: str, limits: Limits) -> None:
    """Raise "too_long" when `chars` of extracted text exceed the limit."""
    if chars > limits.max_text_chars:
        raise RejectedFile(
            f"{name} has more than {limits.max_text_chars:,} characters of text "
            f"(about {limits.max_text_chars // 6:,} words), the most orgtune accepts in one document.",
            SPLIT_HINT,
            code="too_long",
        )


def too_few_words(name: str, words: int, limits: Limits) -> RejectedFile:
    """Rejection for a document with (almost) no text."""
    if words == 0:
        return RejectedFile(
            f"{name} contains no readable text.",
            "Upload a document with written content.",
            code="no_text",
        )
    plural = "word" if words == 1 else "words"
    return RejectedFile(
        f"{name} has only {words} {plural} of text; orgtune needs at least {limits.min_words}.",
        "Upload a document with more written content.",
        code="no_text",
    )


def split_paragraphs(paragraphs: list[str], max_words: int) -> list[list[str]]:
    """Pack paragraphs into parts of at most `max_words` words each.

    Breaks between paragraphs where possible, else between sentences (or lines
    of a code block), else between words. Always returns at least one part.
    """
    parts: list[list[str]] = [[]]
    count = 0
    for paragraph in paragraphs:
        for piece in _pieces(paragraph, max_words):
            size = count_words(piece)
            if parts[-1] and count + size > max_words:
                parts.append([])
                count = 0
            parts[-1].append(piece)
            count += size
    return parts


def _pieces(paragraph: str, max_words: int) -> list[str]:
    """Split one paragraph into chunks of at most `max_words` words.

    Each chunk ends at the last sentence end (or, in code, line end) that fits,
    else mid-sentence at a word boundary. Bisection over precomputed offsets
    keeps this fast on a hostile paragraph of a million one-word sentences.
    """
    starts, ends = word_spans(paragraph)
    if len(starts) <= max_words:
        return [paragraph]
    code = "\n" in paragraph
    breaks = [m.end() for m in (_LINE_END if code else _SENTENCE_END).finditer(paragraph)]
    chunks: list[str] = []
    first, chunk_start = 0, 0
    while first < len(starts):
        last = min(first + max_words, len(starts))  # exclusive word index
        next_start = starts[last] if last < len(starts) else len(paragraph)
        index = bisect.bisect_right(breaks, next_start) - 1
        if last < len(starts) and index >= 0 and breaks[index] > starts[first]:
            # Cut at the sentence/line end; code keeps the next line's indentation.
            last = bisect.bisect_left(starts, breaks[index])
            next_start = breaks[index]
        chunk = paragraph[chunk_start : ends[last - 1]]
        chunks.append(chunk.rstrip() if code else chunk.strip())
        first, chunk_start = last, next_start
    return chunks
