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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orgtune import defaults
from orgtune.config import Config
from training.generate import generate
from training.models import get_model

if TYPE_CHECKING:
    from answering.remote import RemoteEngine

log = logging.getLogger(__name__)


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
        self._adapters: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0
        """How many times a base model was loaded (warm serving keeps this at one per model)."""

    def generate(self, messages: list[dict[str, str]], adapter: AdapterRef | None, model_name: str) -> Generation:
        """Greedy answer with ``adapter`` (or the bare base model when None)."""
        spec = get_model(adapter.model if adapter else model_name)
        with self._lock:
            model, tokenizer = self._base(spec.name)
            start = time.perf_counter()
            if adapter is None:
                with model.disable_adapter():
                    text, n = generate(model, tokenizer, messages, spec.max_new_tokens)
            else:
                model.set_adapter(self._attach(model, adapter))
                text, n = generate(model, tokenizer, messages, spec.max_new_tokens)
            seconds = time.perf_counter() - start
        return Generation(text, n, seconds, spec.name, adapter.adapter_id if adapter else None)

    def _base(self, name: str) -> tuple[Any, Any]:
        if name not in self._bases:
            from peft import get_peft_model

            from training.run import pick_device
            from training.weights import load

            spec = get_model(name)
            device = self.device or pick_device()
            base, tokenizer = load(spec, self.config, device)
            # A placeholder adapter makes the model a PeftModel that real adapters attach to.
            model = get_peft_model(base, spec.lora.peft_config(), adapter_name="_none")
            model.eval()
            self._bases[name] = (model, tokenizer)
            self.loads += 1
            log.info("loaded %s on %s for answering", name, device)
        return self._bases[name]

    def _attach(self, model: Any, ref: AdapterRef) -> str:
        name = f"a{ref.adapter_id}"
        key = (ref.model, ref.adapter_id)
        if key in self._adapters:
            self._adapters.move_to_end(key)
            return name
        model.load_adapter(str(ref.path), adapter_name=name)
        self._adapters[key] = None
        while len(self._adapters) > defaults.MAX_LOADED_ADAPTERS:
            (old_model, old_id), _ = self._adapters.popitem(last=False)
            if old_model == ref.model:
                model.delete_adapter(f"a{old_id}")
        model.eval()
        return name


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
