"""Documents as retrieval passages: sections cut into chunks of about PASSAGE_WORDS words."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from orgtune.defaults import PASSAGE_WORDS
from parsing.words import count_words, word_spans
from retrieval.text import sentence_spans
from training.prompts import Passage


@dataclass(frozen=True)
class SectionText:
    """One section of a stored document: its heading and body text."""

    heading: str
    text: str


@dataclass(frozen=True)
class DocumentText:
    """A stored document as retrieval and example generation see it."""

    id: int
    name: str
    sections: tuple[SectionText, ...]


@dataclass(frozen=True)
class Chunk:
    """A piece of one section; `text` is a verbatim substring of that section's text."""

    document_id: int
    document: str
    section: str
    section_index: int
    text: str

    def passage(self) -> Passage:
        return Passage(self.document, self.section, self.text)


def chunk_document(doc: DocumentText, max_words: int = PASSAGE_WORDS) -> list[Chunk]:
    """Cut every section of `doc` into chunks of at most about `max_words` words.

    Chunks break only between sentences (line breaks, so list items and table
    rows, always count as sentence ends); a single sentence longer than
    `max_words` is cut between words. Each chunk's text is an exact, verbatim
    substring of its section text (no whitespace normalisation at all); chunks
    of one section are in order, do not overlap, and together cover every
    non-whitespace character of the section. Sizes are balanced, so a section of
    100 words becomes two chunks of about 50 rather than 90 + 10.
    """
    chunks = []
    for index, section in enumerate(doc.sections):
        for start, end in _pack(_units(section.text, max_words), max_words):
            chunks.append(Chunk(doc.id, doc.name, section.heading, index, section.text[start:end]))
    return chunks


def chunk_documents(docs: Iterable[DocumentText], max_words: int = PASSAGE_WORDS) -> list[Chunk]:
    """All chunks of all `docs`, in document order."""
    return [chunk for doc in docs for chunk in chunk_document(doc, max_words)]


def _units(text: str, max_words: int) -> list[tuple[int, int, int]]:
    """(start, end, words) of each sentence; over-long sentences become several word runs."""
    units = []
    for start, end in sentence_spans(text):
        words = count_words(text[start:end])
        if words <= max_words:
            units.append((start, end, words))
            continue
        starts, ends = word_spans(text[start:end])
        for first in range(0, len(starts), max_words):
            last = min(first + max_words, len(starts)) - 1
            piece = (start + starts[first], start + ends[last])
            units.append((*piece, count_words(text[piece[0] : piece[1]])))
    return units


def _pack(units: list[tuple[int, int, int]], max_words: int) -> list[tuple[int, int]]:
    """Group consecutive units into spans of balanced size, none over `max_words` (unless one unit is)."""
    total = sum(words for _, _, words in units)
    if not units:
        return []
    target = total / max(1, math.ceil(total / max(1, max_words)))
    spans: list[tuple[int, int]] = []
    start, end, size = units[0][0], units[0][1], units[0][2]
    for unit_start, unit_end, words in units[1:]:
        if size + words > max_words or size >= target:
            spans.append((start, end))
            start, size = unit_start, 0
        end, size = unit_end, size + words
    spans.append((start, end))
    return spans
