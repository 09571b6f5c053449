"""Mechanical checks of a generated reply: is its quote really in the passages, and does it back the answer?

The model replies "Quote: <sentence> / Answer: <short answer>" (`training.prompts`).
The reply is *verified* when the quote occurs in one of the passages it was shown
(after normalising whitespace, quotation marks and letter case) and the answer is
grounded in that quote (`answering.evidence.grounded`: every number and name it
states occurs in the quote or the question, and it states one of the quote's
facts). Only then is the generated answer posted, with the quote's location as its
source. Nothing here judges whether the quote is the *right* sentence: that is what
training teaches, and what the held-out evaluation measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from answering.evidence import grounded
from training.prompts import Passage, Reply

_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "«": '"', "»": '"', "\u00a0": " "})
_EDGE = " \t\n\"'.,;:…"
MIN_QUOTE_WORDS = 3
"""A quote shorter than this ("27 days") shows no evidence a reader could check."""


@dataclass(frozen=True)
class Verified:
    passage: Passage
    quote: str
    """The quoted text exactly as the passage has it."""


def verify(reply: Reply, passages: Sequence[Passage], question: str) -> Verified | None:
    """The passage and verbatim text the reply quotes, when the quote is real and backs the answer; else None."""
    if reply.not_covered or not reply.answer or len(reply.quote.split()) < MIN_QUOTE_WORDS:
        return None
    found = locate(reply.quote, passages)
    if found is None or not grounded(reply.answer, found.quote, question):
        return None
    return found


def locate(quote: str, passages: Sequence[Passage]) -> Verified | None:
    """The first passage holding ``quote`` (normalised), with the passage's own text of it."""
    needle = _norm(quote.strip(_EDGE))
    if not needle:
        return None
    for passage in passages:
        text, offsets = _norm_with_offsets(passage.text)
        at = text.find(needle)
        if at >= 0:
            start, end = offsets[at], offsets[at + len(needle) - 1] + 1
            return Verified(passage, passage.text[start:end])
    return None


def _norm(text: str) -> str:
    return _norm_with_offsets(text)[0]


def _norm_with_offsets(text: str) -> tuple[str, list[int]]:
    """``_norm(text)`` and, for each of its characters, the index of the character of ``text`` it came from."""
    out: list[str] = []
    offsets: list[int] = []
    space = False
    for i, char in enumerate(text.translate(_QUOTES)):
        if char.isspace():
            space = bool(out)
            continue
        if space:
            out.append(" ")
            offsets.append(i - 1)
            space = False
        low = char.lower()
        out.append(low if len(low) == 1 else char)  # keep one character per character, so offsets stay true
        offsets.append(i)
    return "".join(out), offsets
