"""Lexical and semantic ranking fused: what answering retrieves a question's passages with.

BM25 alone misses a question that shares no word with the passage that answers it
("yo how many vacay days", "my bag got nicked at the station, how fast do I flag
it?"), which is how people ask in Slack. An embedding scores every chunk by meaning;
the two are fused by a convex combination of BM25 (scaled by the best score) and
cosine similarity, which Bruch et al. (2023, "An analysis of fusion functions for
hybrid retrieval") found better than reciprocal rank fusion; here too, on the dev
question files (`bench/retrieval_recall.py`).
"""

from __future__ import annotations

from collections.abc import Callable

from orgtune import defaults
from retrieval.bm25 import BM25Index
from retrieval.chunks import Chunk

Similarity = Callable[[str, list[str]], list[float]]
"""(query, texts) -> cosine similarity of each text to the query."""


def chunk_view(chunk: Chunk) -> str:
    """A chunk as the embedding model reads it: its section heading, then its text."""
    return f"{chunk.section}: {chunk.text}"


def hybrid_search(
    index: BM25Index, query: str, similarity: Similarity | None, k: int = defaults.PASSAGES_PER_PROMPT
) -> list[tuple[Chunk, float]]:
    """The ``k`` best chunks for ``query`` with their fused scores, best first (BM25 alone without
    ``similarity``). Ties keep index order, so results are deterministic."""
    lexical = dict(index.search(query, k=len(index.chunks)))
    if similarity is None or not index.chunks:
        return sorted(lexical.items(), key=lambda hit: -hit[1])[:k]
    chunks = list(index.chunks)
    top = max(lexical.values(), default=0.0) or 1.0
    sims = similarity(query, [chunk_view(c) for c in chunks])
    w = defaults.EMBEDDING_RETRIEVAL_WEIGHT
    fused = [(1 - w) * lexical.get(c, 0.0) / top + w * sim for c, sim in zip(chunks, sims, strict=True)]
    best = sorted(range(len(chunks)), key=lambda n: (-fused[n], n))[:k]
    return [(chunks[n], round(fused[n], 6)) for n in best]
