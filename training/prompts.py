"""The one prompt format, shared by training examples and answering.

The assistant sees numbered passages retrieved from the channel's documents and
a question, and answers in one short sentence; when the passages don't contain
the answer it says :data:`NOT_COVERED`. Training examples are written in exactly
this format (including passages that don't contain the answer), so the adapter
learns the behaviour answering relies on. Sources are not the model's job:
answering shows the sentence its answer is grounded in (``answering.evidence``).
A 135M model asked to also cite a passage and quote it learned the citation's
shape better than the answer (77% vs 87% factual on the sample handbook).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SYSTEM = (
    "You are orgtune, the assistant of a Slack channel. Answer the question using only the passages. "
    "Answer in one short sentence. "
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


def assistant_message(answer: str, source: int | None = None) -> str:
    """The target text: the answer alone, or exactly NOT_COVERED when no passage (``source``) holds it."""
    return NOT_COVERED if source is None else answer.strip()


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
    """Split generated text into (answer, cited passage numbers): a model may still add a "Source: [n]" line."""
    cited = [int(n) for n in _SOURCE_RE.findall(text)]
    answer = _SOURCE_RE.split(text, maxsplit=1)[0] if cited else text
    return answer.strip(), cited


def is_not_covered(text: str) -> bool:
    return "don't cover" in text.lower() or "do not cover" in text.lower()
