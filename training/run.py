"""One training run, independent of Slack and the database.

Load the base model, wrap it with LoRA, measure the held-out set, train, measure
again, save the adapter as safetensors with its metadata. Callbacks report the
phase and progress and ask whether to stop; the caller (the RQ job) owns state.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orgtune.config import Config
from training.evaluate import EvalResult, evaluate
from training.loop import Encoded, Progress, TrainResult, TrainSettings, encode, train
from training.models import ModelSpec
from training.weights import load

log = logging.getLogger(__name__)

ADAPTER_WEIGHTS = "adapter_model.safetensors"
METADATA = "orgtune.json"


class TrainingRefused(RuntimeError):
    """The run cannot proceed here (e.g. no GPU); the message says why and what to do."""


class Cancelled(RuntimeError):
    """Raised when a cancel request is seen before training starts."""


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
    before = evaluate(
        model,
        tokenizer,
        heldout,
        heldout_items,
        device=device,
        max_new_tokens=spec.max_new_tokens,
        should_stop=should_stop,
    )
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
    after = evaluate(model, tokenizer, heldout, heldout_items, device=device, max_new_tokens=spec.max_new_tokens)
    adapter_dir = out_dir / "adapter"
    model.save_pretrained(adapter_dir, safe_serialization=True)
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
    return RunOutcome(before, after, result, adapter_dir, size, trainable, device, dropped, digest)


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
