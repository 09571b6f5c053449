"""Retrieval over a channel's documents: sections cut into chunks, ranked with BM25 (fused with an embedding).

Training examples and answering use the same chunks and the same ranking, so
the passages a model is trained with look like the passages it answers from.
"""

from __future__ import annotations

from retrieval.bm25 import BM25Index
from retrieval.chunks import Chunk, DocumentText, SectionText, chunk_document, chunk_documents
from retrieval.hybrid import Similarity, chunk_view, hybrid_search
from retrieval.text import sentence_spans, stem, tokenize

__all__ = [
    "BM25Index",
    "Chunk",
    "DocumentText",
    "SectionText",
    "Similarity",
    "chunk_document",
    "chunk_documents",
    "chunk_view",
    "hybrid_search",
    "sentence_spans",
    "stem",
    "tokenize",
]
