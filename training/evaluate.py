"""A run's held-out measurement: answer-token loss, and how many held-out questions were answered right.

The loss is measured by `training.run` on the held-out examples; the counts come
from the caller's judge, which answers the held-out questions through the answering
pipeline (posted answers, what users see). Without a judge the counts are zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class EvalResult:
    loss: float
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "correct": self.correct, "total": self.total, "accuracy": self.accuracy}
