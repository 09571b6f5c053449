"""Okapi BM25 over chunks: the retriever used for training prompts and for answering."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import PurePath

from orgtune.defaults import PASSAGES_PER_PROMPT
from retrieval.chunks import Chunk
from retrieval.text import tokenize


def chunk_terms(chunk: Chunk) -> list[str]:
    """What a chunk is indexed by: its text, its section heading and its document's file name."""
    name = PurePath(chunk.document).stem.replace("-", " ").replace("_", " ")
    return tokenize(chunk.text) + tokenize(chunk.section) + tokenize(name)


class BM25Index:
    """An in-memory BM25 index; cheap enough to rebuild for every job (a handbook is ~100 chunks)."""

    def __init__(self, chunks: Sequence[Chunk], k1: float = 1.5, b: float = 0.75) -> None:
        self.chunks: tuple[Chunk, ...] = tuple(chunks)
        self._k1, self._b = k1, b
        self._tf = [Counter(chunk_terms(chunk)) for chunk in self.chunks]
        self._lengths = [sum(tf.values()) for tf in self._tf]
        self._average = (sum(self._lengths) / len(self._lengths) if self._lengths else 0.0) or 1.0
        self._postings: dict[str, list[int]] = {}
        for position, tf in enumerate(self._tf):
            for term in tf:
                self._postings.setdefault(term, []).append(position)
        self._positions: dict[Chunk, int] = {}
        for position, chunk in enumerate(self.chunks):
            self._positions.setdefault(chunk, position)
        self._deletes: dict[str, list[str]] | None = None

    def query_terms(self, query: str) -> list[str]:
        """The search terms of `query`, a misspelt word replaced by the indexed word it most likely means.

        People type "benfeits" and "finace" in Slack. A word the index doesn't hold (4 letters or more)
        becomes the indexed word within one edit (an insertion, deletion, substitution or swap of two
        neighbours; two edits from 8 letters on), the most common one when several are that close.
        """
        return [self._correct(term) for term in tokenize(query)]

    def _correct(self, term: str) -> str:
        if term in self._postings or len(term) < MIN_CORRECTED_LENGTH or not term.isalpha():
            return term
        if self._deletes is None:
            self._deletes = {}
            for word in self._postings:
                for key in _one_deleted(word) | {word}:
                    self._deletes.setdefault(key, []).append(word)
        allowed = 2 if len(term) >= 8 else 1
        near = {w for key in _one_deleted(term) | {term} for w in self._deletes.get(key, ())}
        scored = [(edit_distance(term, w), -len(self._postings[w]), w) for w in near]
        best = min((s for s in scored if s[0] <= allowed), default=None)
        return best[2] if best else term

    def idf(self, term: str) -> float:
        """Inverse document frequency of an already tokenized term; unseen terms get the highest value."""
        n = len(self.chunks)
        df = len(self._postings.get(term, ()))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(
        self, query: str, k: int = PASSAGES_PER_PROMPT, exclude: Callable[[Chunk], bool] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The `k` best chunks for `query` with their scores, best first; only scores > 0.

        Chunks for which `exclude` returns True are never returned. Ties keep
        index order, so results are deterministic.
        """
        terms = set(self.query_terms(query))
        scores: dict[int, float] = {}
        for term in terms:
            for position in self._postings.get(term, ()):
                score = self._score(term, self._tf[position], self._lengths[position])
                scores[position] = scores.get(position, 0.0) + score
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        results = []
        for position, score in ranked:
            chunk = self.chunks[position]
            if score > 0 and not (exclude and exclude(chunk)):
                results.append((chunk, score))
                if len(results) >= k:
                    break
        return results

    def relevance(self, query: str, chunk: Chunk) -> float:
        """BM25 score of one chunk for `query` (the chunk need not be in the index)."""
        position = self._positions.get(chunk)
        tf = self._tf[position] if position is not None else Counter(chunk_terms(chunk))
        length = self._lengths[position] if position is not None else sum(tf.values())
        return sum(self._score(term, tf, length) for term in set(self.query_terms(query)) if term in tf)

    def _score(self, term: str, tf: Counter[str], length: int) -> float:
        freq = tf[term]
        norm = self._k1 * (1 - self._b + self._b * length / self._average)
        return self.idf(term) * freq * (self._k1 + 1) / (freq + norm)


MIN_CORRECTED_LENGTH = 4
"""Shorter words are left alone: one edit turns most 3-letter words into other real ones."""


def _one_deleted(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]
