"""One training run, independent of Slack and the database.

Load the base model, wrap it with LoRA, measure the held-out set, train, measure
again, save the adapter as safetensors with its metadata. Callbacks report the
phase and progress and ask whether to stop; the caller (the RQ job) owns state.

Held-out loss is measured here; answer quality is measured by the caller's
``judge`` (the answering pipeline over the held-out questions, so the numbers are
posted answers, what users see), called with a text generator for each
configuration: None (quote-only, no model), the base model, the new adapter, and
the channel's active adapter when the caller names one of the same base model.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orgtune.config import Config
from training.evaluate import EvalResult
from training.generate import generate, score
from training.loop import Encoded, Progress, TrainResult, TrainSettings, encode, evaluate_loss, train
from training.models import ModelSpec
from training.weights import load

log = logging.getLogger(__name__)

ADAPTER_WEIGHTS = "adapter_model.safetensors"
METADATA = "orgtune.json"


class TrainingRefused(RuntimeError):
    """The run cannot proceed here (e.g. no GPU); the message says why and what to do."""


class Cancelled(RuntimeError):
    """Raised when a cancel request is seen before training starts."""


Judge = Callable[[Any, Callable[[], bool]], Any]
"""(a `Held` model or None for quote-only, should_stop) -> the caller's quality record (`correct`, `total`)."""


@dataclass
class RunOutcome:
    before: EvalResult
    after: EvalResult | None
    train: TrainResult
    adapter_dir: Path | None
    adapter_bytes: int
    trainable_params: int
    device: str
    dropped: int
    """Examples longer than the model's max_seq_len, left out."""
    data_hash: str = ""
    quality: dict[str, Any] = field(default_factory=dict)
    """The judge's record per configuration: "quote_only", "base", "adapter" and, when compared, "active"."""


def pick_device() -> str:
    """cuda when a GPU is visible to this process (a work horse, never the worker parent)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def data_hash(examples: Sequence[Any]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps(ex.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()


def run_training(
    spec: ModelSpec,
    config: Config,
    train_examples: Sequence[Any],
    heldout: Sequence[Any],
    out_dir: Path,
    *,
    on_phase: Callable[[str], None] = lambda phase: None,
    on_progress: Callable[[Progress], None] = lambda p: None,
    should_stop: Callable[[], bool] = lambda: False,
    device: str | None = None,
    judge: Judge | None = None,
    active_adapter: Path | None = None,
) -> RunOutcome:
    import torch
    from peft import get_peft_model

    device = device or pick_device()
    if spec.needs_gpu and device == "cpu" and not config.allow_cpu_training:
        raise TrainingRefused(_cpu_refusal(spec))
    torch.manual_seed(0)
    digest = data_hash([*train_examples, *heldout])
    on_phase("loading")
    base, tokenizer = load(spec, config, device)
    model = get_peft_model(base, spec.lora.peft_config())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    train_items, dropped = _encode_all(tokenizer, train_examples, spec.max_seq_len)
    heldout_items, _ = _encode_all(tokenizer, heldout, spec.max_seq_len)
    on_phase("evaluating")  # LoRA's B starts at zero: this is the base model's score
    quality: dict[str, Any] = {}
    if judge is not None:
        quality["quote_only"] = judge(None, should_stop)
        with model.disable_adapter():
            quality["base"] = judge(Held(model, tokenizer, spec), should_stop)
    before = _result(evaluate_loss(model, heldout_items, tokenizer.pad_token_id, device), quality.get("base"))
    if should_stop():
        raise Cancelled()
    on_phase("training")
    settings = TrainSettings(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        learning_rate=spec.learning_rate,
        gradient_checkpointing=spec.gradient_checkpointing,
        autocast=spec.gpu_fast_path,
        compile=spec.gpu_fast_path and config.torch_compile,
    )
    checkpoints = out_dir / "checkpoints"
    result = train(
        model,
        train_items,
        settings,
        pad_id=tokenizer.pad_token_id,
        device=device,
        on_progress=on_progress,
        should_stop=should_stop,
        on_epoch_end=lambda epoch: model.save_pretrained(checkpoints / f"epoch-{epoch}"),
    )
    if result.cancelled:
        return RunOutcome(before, None, result, None, 0, trainable, device, dropped, digest)
    on_phase("evaluating")
    adapter_dir = out_dir / "adapter"
    model.save_pretrained(adapter_dir, safe_serialization=True)  # before another adapter joins the model
    if judge is not None:
        quality["adapter"] = judge(Held(model, tokenizer, spec), lambda: False)
        if active_adapter is not None:
            quality["active"] = _judge_adapter(model, tokenizer, spec, judge, active_adapter)
    after = _result(evaluate_loss(model, heldout_items, tokenizer.pad_token_id, device), quality.get("adapter"))
    metadata = {
        "model": spec.name,
        "base_model": spec.base_model,
        "lora": spec.lora.peft_config().to_dict(),
        "data_hash": digest,
        "trainable_params": trainable,
        "metrics": {
            "loss_before": before.loss,
            "loss_after": after.loss,
            "accuracy_before": before.accuracy,
            "accuracy_after": after.accuracy,
            "train_tokens_per_s": result.tokens_per_s,
        },
    }
    (adapter_dir / METADATA).write_text(json.dumps(metadata, indent=2, default=str))
    size = (adapter_dir / ADAPTER_WEIGHTS).stat().st_size
    return RunOutcome(before, after, result, adapter_dir, size, trainable, device, dropped, digest, quality)


class Held:
    """The run's model with whatever adapter is set, as the judge asks it: generate and score."""

    def __init__(self, model: Any, tokenizer: Any, spec: ModelSpec) -> None:
        model.eval()  # no dropout while answering
        self.model, self.tokenizer, self.max_new_tokens = model, tokenizer, spec.max_new_tokens

    def generate(self, messages: list[dict[str, str]], prefix: str = "") -> str:
        return generate(self.model, self.tokenizer, messages, self.max_new_tokens, prefix)[0]

    def score(self, messages: list[dict[str, str]], continuations: list[str]) -> list[float]:
        return score(self.model, self.tokenizer, messages, continuations)


def _result(loss: float, quality: Any | None) -> EvalResult:
    if quality is None:
        return EvalResult(loss, 0, 0)
    return EvalResult(loss, quality.correct, quality.total)


def _judge_adapter(model: Any, tokenizer: Any, spec: ModelSpec, judge: Judge, path: Path) -> Any:
    """The channel's active adapter on the same questions, loaded next to the new one, then removed."""
    model.load_adapter(str(path), adapter_name="active")
    try:
        model.set_adapter("active")
        return judge(Held(model, tokenizer, spec), lambda: False)
    finally:
        model.set_adapter("default")
        model.delete_adapter("active")


def _encode_all(tokenizer: Any, examples: Sequence[Any], max_len: int) -> tuple[list[Encoded], int]:
    items = [encode(tokenizer, ex.messages()) for ex in examples]
    kept = [e for e in items if len(e) <= max_len]
    if len(kept) < len(items):
        log.warning("left out %d examples longer than %d tokens", len(items) - len(kept), max_len)
    return kept, len(items) - len(kept)


def _cpu_refusal(spec: ModelSpec) -> str:
    from training.plan import human_bytes, parameter_counts

    counts = parameter_counts(spec)
    return (
        f"`{spec.name}` needs a GPU, and this worker has none. Its {counts.total / 1e9:.1f} B parameters need about "
        f"{human_bytes(counts.total * 4)} of RAM in float32 on a CPU, and training would run around "
        f"{counts.total / 135e6:.0f}x slower than smollm2 (hours per epoch). Start a worker on a CUDA machine "
        "(`orgtune worker train`), try `/train smollm2`, or set ORGTUNE_ALLOW_CPU_TRAINING=1 to force it."
    )
