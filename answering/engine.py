"""A warm model for answering: base weights loaded once, adapters switched per question.

One Engine lives in each answer worker process (a non-forking RQ worker, so the
weights stay loaded between jobs). Each base model is loaded the first time it is
needed; adapters are attached to it by name and activated per call, so switching
channels never reloads the base. Calls are serialised by a lock: the active
adapter can never change under a running generation, so a question can never be
answered with another channel's adapter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from orgtune import defaults
from orgtune.config import Config
from training.generate import generate, score
from training.models import get_model

if TYPE_CHECKING:
    from answering.remote import RemoteEngine

log = logging.getLogger(__name__)

T = TypeVar("T")

_PLACEHOLDER = "_none"
"""The adapter every base is wrapped with, so real adapters can be attached to it by name."""


@dataclass(frozen=True)
class AdapterRef:
    """Which adapter to answer with: its id (unique name) and its directory."""

    adapter_id: int
    model: str
    path: Path


@dataclass(frozen=True)
class Generation:
    text: str
    new_tokens: int
    seconds: float
    model: str
    adapter_id: int | None


class Engine:
    def __init__(self, config: Config, device: str | None = None) -> None:
        self.config = config
        self.device = device
        self._bases: dict[str, tuple[Any, Any]] = {}
        # (base model name, adapter id), least recently used first: one LRU across all bases,
        # so the limit bounds the adapters this process holds, whichever bases hold them.
        self._adapters: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0
        """How many times a base model was loaded (warm serving keeps this at one per model)."""

    def generate(
        self, messages: list[dict[str, str]], adapter: AdapterRef | None, model_name: str, prefix: str = ""
    ) -> Generation:
        """Greedy answer with ``adapter`` (or the bare base model when None), continuing ``prefix`` if given."""
        spec = get_model(adapter.model if adapter else model_name)
        start = time.perf_counter()
        text, n = self._run(
            spec.name, adapter, lambda model, tok: generate(model, tok, messages, spec.max_new_tokens, prefix)
        )
        return Generation(text, n, time.perf_counter() - start, spec.name, adapter.adapter_id if adapter else None)

    def score(
        self, messages: list[dict[str, str]], continuations: list[str], adapter: AdapterRef | None, model_name: str
    ) -> list[float]:
        """Mean log-probability per token of each continuation of the assistant turn (`training.generate.score`)."""
        name = adapter.model if adapter else model_name
        return self._run(get_model(name).name, adapter, lambda model, tok: score(model, tok, messages, continuations))

    def _run(self, name: str, adapter: AdapterRef | None, work: Callable[[Any, Any], T]) -> T:
        with self._lock:
            model, tokenizer = self._base(name)
            if adapter is None:
                with model.disable_adapter():
                    return work(model, tokenizer)
            model.set_adapter(self._attach(name, model, adapter))
            return work(model, tokenizer)

    def _base(self, name: str) -> tuple[Any, Any]:
        if name not in self._bases:
            from peft import get_peft_model

            from training.run import pick_device
            from training.weights import load

            spec = get_model(name)
            device = self.device or pick_device()
            base, tokenizer = load(spec, self.config, device)
            # A placeholder adapter makes the model a PeftModel that real adapters attach to.
            model = get_peft_model(base, spec.lora.peft_config(), adapter_name=_PLACEHOLDER)
            model.eval()
            self._bases[name] = (model, tokenizer)
            self.loads += 1
            log.info("loaded %s on %s for answering", name, device)
        return self._bases[name]

    def _attach(self, base: str, model: Any, ref: AdapterRef) -> str:
        """Load ``ref`` onto ``model`` (base ``base``) unless it is there; return its adapter name."""
        name = _adapter_name(ref.adapter_id)
        key = (base, ref.adapter_id)
        if key in self._adapters:
            self._adapters.move_to_end(key)
            return name
        # Evict before loading, so even the peak stays within the limit.
        while self._adapters and len(self._adapters) >= defaults.MAX_LOADED_ADAPTERS:
            self._evict()
        model.load_adapter(str(ref.path), adapter_name=name)
        self._adapters[key] = None
        model.eval()
        return name

    def _evict(self) -> None:
        """Delete the least recently used adapter from the base model that holds it.

        That is often not the model about to be used: deleting only from that one
        leaked every adapter evicted from another base.
        """
        (base, adapter_id), _ = self._adapters.popitem(last=False)
        holder, _ = self._bases[base]
        name = _adapter_name(adapter_id)
        if holder.active_adapter == name:
            # Deleting the active adapter makes peft warn and pick another itself.
            holder.set_adapter(_PLACEHOLDER)
        holder.delete_adapter(name)


def _adapter_name(adapter_id: int) -> str:
    # Adapter ids are unique across channels and bases, so the name is too.
    return f"a{adapter_id}"


_engine: Engine | RemoteEngine | None = None


def process_engine(config: Config) -> Engine | RemoteEngine:
    """The answer worker's engine, created once per process and kept warm.

    With ``config.inference_url`` set, generation goes to that OpenAI-compatible server
    (``answering.remote``); otherwise the base model is loaded here.
    """
    global _engine
    if _engine is None:
        if config.inference_url:
            from answering.remote import RemoteEngine  # imported here: remote imports this module

            _engine = RemoteEngine.from_config(config)
        else:
            _engine = Engine(config)
    return _engine
