"""A channel's retrieval index, built once per answer worker and rebuilt only when its documents change.

Answering a question needs the channel's documents as text, their chunks and a
BM25 index over them. Built from the database on every question, that cost grows
with the channel (a thousand documents mean reading and chunking all of them for
each question). Here it is kept per channel, with the fingerprint of what it was
built from: the (id, content hash) of every usable document. Each question reads
only the fingerprint (one light query); when another process has added, forgotten
or replaced a document, the fingerprint differs and the index is rebuilt, so a
stale index is never used, across any number of workers, with nothing to notify.
When the index is built, the embedder is given each document's chunks to load or
encode once (`answering.embed.Embedder.preload`), so the first question of a large
channel does not encode thousands of chunks inside the answer job's time limit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from orgtune import defaults
from retrieval import BM25Index, DocumentText, chunk_documents, chunk_view
from storage import documents
from storage.channels import ChannelKey
from training.dataset import channel_documents

Fingerprint = tuple[tuple[int, str], ...]
Prepare = Callable[[dict[int, list[str]]], object]
"""Given each document's chunk texts (by document id) when an index is built, to embed them once."""


@dataclass(frozen=True)
class ChannelIndex:
    fingerprint: Fingerprint
    docs: list[DocumentText]
    index: BM25Index


class IndexCache:
    """The indexes of the channels most recently asked about (CHANNEL_INDEXES_KEPT), thread-safe."""

    def __init__(self, size: int = defaults.CHANNEL_INDEXES_KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[ChannelKey, ChannelIndex] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0
        """How many indexes were built (a test and the benchmark read it)."""

    def forget(self) -> None:
        """Drop every kept index (what a restarted worker starts with)."""
        with self._lock:
            self._kept.clear()

    def get(self, session: Session, key: ChannelKey, prepare: Prepare | None = None) -> ChannelIndex:
        """The channel's index, rebuilt when its documents changed; ``prepare`` is given each document's
        chunk texts (as `retrieval.chunk_view` writes them) when it is built."""
        fingerprint = documents.ready_fingerprint(session, key)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept.fingerprint == fingerprint:
                self._kept.move_to_end(key)
                return kept
        built = build(session, key)
        if prepare is not None:
            by_document: dict[int, list[str]] = {}
            for chunk in built.index.chunks:
                by_document.setdefault(chunk.document_id, []).append(chunk_view(chunk))
            prepare(by_document)
        with self._lock:
            self.builds += 1
            self._kept[key] = built
            self._kept.move_to_end(key)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return built


def build(session: Session, key: ChannelKey) -> ChannelIndex:
    """The index of the documents as read now; its fingerprint is theirs (read in the same query), so a
    document changed in between shows as a changed fingerprint on the next question, never as a stale hit."""
    docs, shas = channel_documents(session, key)
    return ChannelIndex(tuple((d.id, shas[d.id]) for d in docs), docs, BM25Index(chunk_documents(docs)))


_cache = IndexCache()


def process_index_cache() -> IndexCache:
    """This process's cache (answer workers are long-lived: the index survives between questions)."""
    return _cache
