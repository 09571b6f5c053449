"""Held-out examples split from training by fact, so a held-out question's fact is never trained on."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence

from orgtune.defaults import HELDOUT_FRACTION, MIN_HELDOUT_EXAMPLES
from training.examples import FACTUAL_KINDS, UNANSWERED_KINDS, Example
from training.scoring import normalize


def split_heldout(
    examples: Sequence[Example], fraction: float = HELDOUT_FRACTION, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """(train, heldout) split by fact: disjoint, deterministic, each in input order.

    All examples about one fact (its phrasings, the prompt without its gold passage,
    a not-covered question made from it) land on the same side, so no held-out
    question has its fact among the training targets. Whole facts are held out until
    about round(len * fraction) examples are (at least MIN_HELDOUT_EXAMPLES when
    there are >= 2 * MIN_HELDOUT_EXAMPLES examples; never every fact): first one
    off-topic fact when there are some (a question the channel can't answer, the
    only kind of not-covered question that can be asked of the whole channel), then
    factual facts ("number", "fact", "definition") spread over documents, then others.
    """
    n = len(examples)
    size = round(n * fraction)
    if n >= 2 * MIN_HELDOUT_EXAMPLES:
        size = max(size, MIN_HELDOUT_EXAMPLES)
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(e.fact or f"question:{normalize(e.question)}", []).append(i)
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    first = {k: examples[groups[k][0]] for k in keys}
    off_topic = [k for k in keys if first[k].off_topic]
    factual = _spread([k for k in keys if _kind(examples, groups[k]) in FACTUAL_KINDS], first)
    others = [k for k in keys if k not in set(off_topic) | set(factual)]
    held: list[str] = []
    count = 0
    for key in off_topic[:1] + factual + others + off_topic[1:]:
        if count >= size or len(held) >= len(keys) - 1:
            break
        if count + len(groups[key]) > max(size, 1) * 1.5 and held:
            continue  # a fact with many phrasings would overshoot the target size: try a smaller one
        held.append(key)
        count += len(groups[key])
    chosen = {i for key in held for i in groups[key]}
    return [e for i, e in enumerate(examples) if i not in chosen], [e for i, e in enumerate(examples) if i in chosen]


def _kind(examples: Sequence[Example], members: list[int]) -> str:
    """A fact's kind: that of its answerable examples."""
    return next((examples[i].kind for i in members if examples[i].kind not in UNANSWERED_KINDS), "not_covered")


def _spread(keys: list[str], first: dict[str, Example]) -> list[str]:
    """Reorder so consecutive picks come from different documents (round-robin by document)."""
    queues: dict[int | None, deque[str]] = {}
    for key in keys:
        queues.setdefault(first[key].document_id, deque()).append(key)
    result: list[str] = []
    while any(queues.values()):
        result += [queue.popleft() for queue in queues.values() if queue]
    return result
