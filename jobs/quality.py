"""What a training run measures and what it decides from it: posted-answer quality and activation.

The run's held-out questions (split from training by fact, `training.examples`)
are answered through the answering pipeline by quote-only answering, the base
model, the new adapter and the channel's active version (`answering.judge`). A
new version becomes the active one only if it answers at least as many of them
right as what the channel uses now (its active version of the same model, else
the base model); otherwise it is kept and the channel is told why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from answering.embed import process_embedder
from answering.judge import Case, HeldModel, Judge, Loaded, Quality
from retrieval import DocumentText
from training.examples import Example


@dataclass(frozen=True)
class ActiveVersion:
    """The channel's active adapter when the run starts."""

    version: int
    model: str
    path: Any


@dataclass(frozen=True)
class Decision:
    activate: bool
    compared_with: str
    """What the new version was compared with: "v2", or "the base model"."""
    new_correct: int
    old_correct: int
    total: int


def cases(heldout: Sequence[Example]) -> list[Case]:
    """The held-out questions that can be asked of the whole channel: the answerable ones, and the
    off-topic ones (a question asked without its passage, or another document's, is answered by the
    channel's documents once retrieval runs over all of them, so it can't count as 'not covered')."""
    return [Case(e.question, e.expected) for e in heldout if e.expected is not None or e.off_topic]


def make_judge(
    docs: Sequence[DocumentText], heldout: Sequence[Example], model: str
) -> Callable[[HeldModel | None, Callable[[], bool]], Quality]:
    """What `training.run.run_training` calls for each configuration: the run's model as it holds it (its
    adapter set), or None for quote-only."""
    embedder = process_embedder()
    judge = Judge(docs, cases(heldout), model, embedder.similarities if embedder else None)
    return lambda held, should_stop: judge(Loaded(held, model) if held else None, None, should_stop)


def decide(quality: dict[str, Any], active: ActiveVersion | None) -> Decision:
    """Activate unless the new version answers fewer held-out questions right than what is in use now."""
    new = quality.get("adapter")
    if new is None or not new.total:
        return Decision(True, "nothing (no held-out questions)", 0, 0, 0)
    if "active" in quality and active is not None:
        old, name = quality["active"], f"v{active.version}"
    else:
        old, name = quality["base"], "the base model"
    return Decision(new.correct >= old.correct, name, new.correct, old.correct, new.total)
