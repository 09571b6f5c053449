"""The one prompt format, shared by training examples and answering.

The assistant sees numbered passages retrieved from the channel's documents and
a question. It answers briefly, then cites the passage it used with a short
verbatim quote; when the passages don't contain the answer it says
:data:`NOT_COVERED` and cites nothing. Training examples are written in exactly
this format (including passages that don't contain the answer), so the adapter
learns the behaviour answering relies on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SYSTEM = (
    "You are orgtune, the assistant of a Slack channel. Answer the question using only the passages. "
    "Answer in one or two sentences, then cite the passage you used. "
    "If the passages do not answer the question, reply exactly: The documents don't cover this."
)

NOT_COVERED = "The documents don't cover this."


@dataclass(frozen=True)
class Passage:
    """A piece of one section of one document, as placed in a prompt."""

    document: str
    section: str
    text: str


def render_passages(passages: Sequence[Passage]) -> str:
    return "\n\n".join(f"[{i}] {p.document} — {p.section}\n{p.text}" for i, p in enumerate(passages, 1))


def user_message(question: str, passages: Sequence[Passage]) -> str:
    body = render_passages(passages) if passages else "(no passages found)"
    return f"Passages:\n{body}\n\nQuestion: {question.strip()}"


def assistant_message(answer: str, source: int | None = None, passages: Sequence[Passage] = (), quote: str = "") -> str:
    """The target text: the answer, then ``Source: [n] document — section: "quote"``."""
    if source is None:
        return NOT_COVERED
    p = passages[source - 1]
    cite = f'Source: [{source}] {p.document} — {p.section}: "{quote.strip()}"' if quote else f"Source: [{source}]"
    return f"{answer.strip()}\n{cite}"


def chat(question: str, passages: Sequence[Passage], answer: str | None = None) -> list[dict[str, str]]:
    """Messages for a chat template; with ``answer`` the assistant turn is included."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": user_message(question, passages)},
    ]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages


_SOURCE_RE = re.compile(r"Source:\s*\[(\d+)\]")


def parse_answer(text: str) -> tuple[str, list[int]]:
    """Split generated text into (answer, cited passage numbers)."""
    cited = [int(n) for n in _SOURCE_RE.findall(text)]
    answer = _SOURCE_RE.split(text, maxsplit=1)[0] if cited else text
    return answer.strip(), cited


def is_not_covered(text: str) -> bool:
    return "don't cover" in text.lower() or "do not cover" in text.lower()
