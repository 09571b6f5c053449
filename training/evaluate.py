"""Held-out evaluation: answer-token loss, and answer accuracy with the shared scoring rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from training import prompts
from training.loop import Encoded, evaluate_loss


@dataclass(frozen=True)
class Judged:
    question: str
    expected: str | None
    answer: str
    correct: bool


@dataclass
class EvalResult:
    loss: float
    correct: int
    total: int
    items: list[Judged] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "correct": self.correct,
            "total": self.total,
            "accuracy": self.accuracy,
            "items": [asdict(i) for i in self.items],
        }


def evaluate(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Any],
    encoded: Sequence[Encoded],
    *,
    device: str,
    max_new_tokens: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> EvalResult:
    """Loss over ``encoded`` and greedy answers to each example's question, scored."""
    from training.generate import generate
    from training.scoring import is_correct

    loss = evaluate_loss(model, encoded, tokenizer.pad_token_id, device)
    items = []
    for ex in examples:
        if should_stop():
            break
        text, _ = generate(model, tokenizer, prompts.chat(ex.question, ex.passages), max_new_tokens)
        items.append(Judged(ex.question, ex.expected, text, is_correct(ex.expected, text)))
    return EvalResult(loss, sum(i.correct for i in items), len(items), items)
