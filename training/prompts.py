"""The one prompt format, shared by training examples and answering.

The assistant sees numbered passages retrieved from the channel's documents and
a question. It first copies the sentence that answers the question from a
passage, then answers briefly::

    Quote: <a sentence copied verbatim from one passage>
    Answer: <one short sentence>

or, when no passage answers it, exactly :data:`NOT_COVERED`. Quoting first is
RAFT's recipe (Zhang et al. 2024): the answer is conditioned on evidence the
model has just copied, and the quote lets answering check the reply
mechanically (`answering.verify`): the quote must occur in a passage and the
answer's numbers and names must occur in the quote. Training examples use
exactly this format, including prompts whose passages don't hold the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SYSTEM = (
    "You are orgtune, the assistant of a Slack channel. Answer the question using only the passages. "
    "First copy the sentence of the passages that answers it, then answer in one short sentence, as:\n"
    "Quote: <copied sentence>\nAnswer: <short answer>\n"
    "If the passages do not answer the question, reply exactly: The documents don't cover this."
)

NOT_COVERED = "The documents don't cover this."


@dataclass(frozen=True)
class Passage:
    """A piece of one section of one document, as placed in a prompt."""

    document: str
    section: str
    text: str


@dataclass(frozen=True)
class Reply:
    """A generated reply, split into its parts."""

    quote: str
    """The copied sentence ('' when the model wrote none)."""
    answer: str
    """The answer ('' when the model wrote none)."""
    not_covered: bool
    """The model said the documents don't cover the question."""


def render_passages(passages: Sequence[Passage]) -> str:
    return "\n\n".join(f"[{i}] {p.document} — {p.section}\n{p.text}" for i, p in enumerate(passages, 1))


def user_message(question: str, passages: Sequence[Passage]) -> str:
    body = render_passages(passages) if passages else "(no passages found)"
    return f"Passages:\n{body}\n\nQuestion: {question.strip()}"


def assistant_message(answer: str, quote: str | None) -> str:
    """The target text: quote then answer, or exactly NOT_COVERED when no passage holds the answer."""
    if quote is None:
        return NOT_COVERED
    return f"Quote: {' '.join(quote.split())}\nAnswer: {answer.strip()}"


def chat(question: str, passages: Sequence[Passage], answer: str | None = None) -> list[dict[str, str]]:
    """Messages for a chat template; with ``answer`` the assistant turn is included."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": user_message(question, passages)},
    ]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages


_QUOTE = re.compile(r"^\s*Quote:\s*", re.IGNORECASE)
_ANSWER = re.compile(r"(?:^|\n)\s*Answer:\s*", re.IGNORECASE)
_CITATION = re.compile(r"\s*Source:\s*\[\d+\].*$", re.DOTALL)


def parse_reply(text: str) -> Reply:
    """Split generated text into quote and answer.

    Without an "Answer:" line the whole text (minus a "Quote:" label) is the answer and the quote
    is empty; a trailing "Source: [n]" citation is dropped.
    """
    text = _CITATION.sub("", text.strip())
    parts = _ANSWER.split(text, maxsplit=1)
    if len(parts) == 2:
        quote, answer = _QUOTE.sub("", parts[0]).strip(), parts[1].strip()
    elif _QUOTE.match(text):
        quote, answer = _QUOTE.sub("", text).strip(), ""
    else:
        quote, answer = "", text
    answer = answer.split("\n")[0].strip()
    return Reply(_unquote(quote), answer, is_not_covered(answer or text))


def _unquote(text: str) -> str:
    """Drop quotation marks a model put around its quote."""
    pairs = {'"': '"', "“": "”", "'": "'", "«": "»"}
    text = text.strip()
    if len(text) >= 2 and pairs.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def is_not_covered(text: str) -> bool:
    return "don't cover" in text.lower() or "do not cover" in text.lower()
