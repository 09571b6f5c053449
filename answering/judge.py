"""Score what users would see: held-out questions through the whole answering pipeline.

A training run measures its adapter the way a channel will meet it: each
held-out question is retrieved over the channel's documents, answered, verified
and, when the reply can't be verified, replaced by the ranker's quote, exactly as
`answering.pipeline.answer` does for a real question. The same questions are
answered by quote-only answering (no model), by the base model and by the new
adapter (and by the channel's active version when there is one), side by side.
Retrieval is done once per question and shared by every configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from answering.engine import AdapterRef, Generation
from answering.evidence import Similarity
from answering.pipeline import Context, Gates, Generator, answer, retrieve
from retrieval import DocumentText
from training.scoring import is_correct


class HeldModel(Protocol):
    """A model the caller holds with its adapter set (a training run's): generates and scores, in the shared
    prompt format (`training.generate`)."""

    def generate(self, messages: list[dict[str, str]], prefix: str = "") -> str: ...

    def score(self, messages: list[dict[str, str]], continuations: list[str]) -> list[float]: ...


@dataclass(frozen=True)
class Case:
    question: str
    expected: str | None
    """The key answer, or None when the channel's documents don't answer the question."""


@dataclass(frozen=True)
class Judged:
    question: str
    expected: str | None
    answer: str
    grounding: str
    correct: bool
    quote_relevance: float = 0.0


@dataclass
class Quality:
    """Posted-answer accuracy of one configuration on the held-out questions."""

    items: list[Judged] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def correct(self) -> int:
        return sum(i.correct for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        answerable = [i for i in self.items if i.expected is not None]
        uncovered = [i for i in self.items if i.expected is None]
        posted = [i for i in self.items if i.grounding in ("generated", "quoted")]
        return {
            "correct": self.correct,
            "total": self.total,
            "answerable_correct": sum(i.correct for i in answerable),
            "answerable_total": len(answerable),
            "not_covered_correct": sum(i.correct for i in uncovered),
            "not_covered_total": len(uncovered),
            "refused_answerable": sum(1 for i in answerable if i.grounding in ("", "declined")),
            "generated": sum(i.grounding == "generated" for i in posted),
            "quoted": sum(i.grounding == "quoted" for i in posted),
            "items": [asdict(i) for i in self.items],
        }


class Loaded:
    """A held model as an answering engine (`pipeline.Scorer`): the adapter is whatever the holder set."""

    def __init__(self, held: HeldModel, model: str) -> None:
        self._held, self._model = held, model

    def generate(
        self, messages: list[dict[str, str]], adapter: AdapterRef | None, model_name: str, prefix: str = ""
    ) -> Generation:
        start = time.perf_counter()
        text = self._held.generate(messages, prefix)
        return Generation(text, 0, time.perf_counter() - start, self._model, None)

    def score(
        self, messages: list[dict[str, str]], continuations: list[str], adapter: AdapterRef | None, model_name: str
    ) -> list[float]:
        return self._held.score(messages, continuations)


class Judge:
    """The held-out questions of one run, retrieved once, answered by any configuration on demand."""

    def __init__(
        self,
        docs: Sequence[DocumentText],
        cases: Sequence[Case],
        model: str,
        similarity: Similarity | None = None,
    ) -> None:
        self.model = model
        unique = {c.question: c for c in cases}
        self.cases = list(unique.values())
        self.contexts: list[Context] = [retrieve(list(docs), c.question, similarity=similarity) for c in self.cases]

    def __call__(
        self,
        engine: Generator | None,
        adapter: AdapterRef | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        gates: Gates | None = None,
    ) -> Quality:
        """Posted answers by ``engine`` with ``adapter`` (engine None: quote-only), scored with the shared rule."""
        quality = Quality()
        for case, context in zip(self.cases, self.contexts, strict=True):
            if should_stop():
                break
            got = answer(case.question, replace(context, adapter=adapter), engine, self.model, gates)
            quality.items.append(
                Judged(
                    case.question,
                    case.expected,
                    got.text,
                    got.grounding,
                    is_correct(case.expected, got.text),
                    round(got.quote_relevance, 3),
                )
            )
        return quality
