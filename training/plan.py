"""What a run will cost, before any compute is spent.

Parameter counts come from the architecture, instantiated on PyTorch's ``meta``
device (no weights, no memory) and wrapped with the LoRA config, so they are
exact for any model. Time and memory are estimates from the worker's measured
hardware and documented rules of thumb (see the constants below).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from jobs.hardware import Hardware
from training.models import ModelSpec

CHARS_PER_TOKEN = 3.6
"""English prose averages ~4 characters per token; prompts with numbers and names run a bit denser."""

TEMPLATE_TOKENS = 16
"""Chat-template overhead per example (role markers, separators)."""

TRAIN_EFFICIENCY = {"cpu": 0.45, "cuda": 0.40}
"""Share of measured matmul throughput a LoRA step achieves (measured ~0.45 on 2 CPU cores for SmolLM2)."""

DECODE_EFFICIENCY = {"cpu": 0.25, "cuda": 0.01}
"""Decoding is memory-bound: far below matmul peak, especially on GPUs."""

DECODE_OVERHEAD_S = {"cpu": 0.03, "cuda": 0.015}
"""Per generated token Python/kernel-launch overhead, which dominates for small models."""

CUDA_CONTEXT_BYTES = 1 << 30
"""CUDA context, cuBLAS workspaces and allocator slack."""

BYTES_PER_DTYPE = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class ParameterCounts:
    total: int
    trainable: int
    hidden_size: int
    intermediate_size: int
    kv_size: int
    layers: int
    vocab: int


@functools.cache
def parameter_counts(spec: ModelSpec) -> ParameterCounts:
    """Exact counts from the architecture on the meta device with the LoRA config applied."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from training.weights import architecture_config

    config = architecture_config(spec)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    total = sum(p.numel() for p in model.parameters())
    peft_model = get_peft_model(model, spec.lora.peft_config())
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return ParameterCounts(
        total=total,
        trainable=trainable,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        kv_size=config.num_key_value_heads * head_dim,
        layers=config.num_hidden_layers,
        vocab=config.vocab_size,
    )


@dataclass
class Plan:
    model: str
    base_model: str
    documents: int
    examples: int
    train_examples: int
    heldout_examples: int
    total_params: int
    trainable_params: int
    adapter_bytes: int
    epochs: int
    batch_size: int
    steps: int
    train_tokens: int
    peak_memory_bytes: int
    duration_s: float
    hardware: str
    device: str
    warnings: list[str] = field(default_factory=list)
    facts: int = 0
    """Distinct facts the examples ask about (each in up to `phrasings` phrasings; split by fact)."""
    phrasings: int = 1
    changes: dict[str, object] = field(default_factory=dict)
    """Since the channel's last run of this model: new_documents, removed_documents, reused_examples
    and previous_version (empty on a first run)."""

    @property
    def trainable_percent(self) -> float:
        return 100.0 * self.trainable_params / self.total_params

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "trainable_percent": round(self.trainable_percent, 3)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def estimate_tokens(texts_per_example: Sequence[int]) -> list[int]:
    """Token estimates from character counts (no tokenizer needed where the bot runs)."""
    return [int(chars / CHARS_PER_TOKEN) + TEMPLATE_TOKENS for chars in texts_per_example]


def make_plan(
    spec: ModelSpec,
    *,
    documents: int,
    example_chars: Sequence[int],
    heldout: int,
    hardware: Hardware,
    answer_tokens: int = 48,
) -> Plan:
    """Plan a run over examples of the given sizes (characters of prompt + answer each)."""
    counts = parameter_counts(spec)
    tokens = [min(t, spec.max_seq_len) for t in estimate_tokens(example_chars)]
    train_tokens = sum(tokens[heldout:]) if heldout < len(tokens) else 0
    train_n = max(len(tokens) - heldout, 0)
    steps = spec.epochs * -(-train_n // spec.batch_size)
    device = hardware.device
    dtype_bytes = 4 if device == "cpu" else BYTES_PER_DTYPE[spec.dtype]
    longest = max(tokens, default=0)
    plan = Plan(
        model=spec.name,
        base_model=spec.base_model,
        documents=documents,
        examples=len(tokens),
        train_examples=train_n,
        heldout_examples=heldout,
        total_params=counts.total,
        trainable_params=counts.trainable,
        adapter_bytes=counts.trainable * (4 if device == "cpu" else BYTES_PER_DTYPE[spec.dtype]),
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        steps=steps,
        train_tokens=train_tokens * spec.epochs,
        peak_memory_bytes=peak_memory(spec, counts, dtype_bytes, spec.batch_size * longest, device, answer_tokens),
        duration_s=duration(counts, train_tokens * spec.epochs, heldout, spec, hardware),
        hardware=hardware.describe(),
        device=device,
    )
    plan.warnings = _warnings(spec, plan, hardware)
    return plan


def peak_memory(
    spec: ModelSpec, c: ParameterCounts, dtype_bytes: int, batch_tokens: int, device: str, answer_tokens: int
) -> int:
    """Weights + LoRA optimizer state + saved activations + logits, in bytes.

    Saved activations per token and layer, for a LoRA'd Llama block with SDPA:
    the inputs of the frozen projections and norms (~7h + 2kv + 4i elements) plus
    the dropped-out copies feeding each LoRA A matrix (~6h + i).
    """
    weights = c.total * dtype_bytes
    lora_state = c.trainable * 16  # fp32 weight + grad + two Adam moments
    per_token_layer = (13 * c.hidden_size + 2 * c.kv_size + 5 * c.intermediate_size) * dtype_bytes
    if spec.gradient_checkpointing:
        activations = batch_tokens * (c.layers * c.hidden_size * dtype_bytes + per_token_layer)
    else:
        activations = batch_tokens * c.layers * per_token_layer
    logits = spec.batch_size * answer_tokens * c.vocab * 4 * 3
    overhead = CUDA_CONTEXT_BYTES if device == "cuda" else 256 << 20
    return int(weights + lora_state + activations + logits + overhead)


def duration(c: ParameterCounts, train_tokens: int, heldout: int, spec: ModelSpec, hw: Hardware) -> float:
    """Seconds: training at ~4 x params FLOPs per token, plus generating held-out answers twice."""
    flops = hw.matmul_gflops * 1e9
    train_s = train_tokens * 4 * c.total / (flops * TRAIN_EFFICIENCY[hw.device])
    per_new_token = 2 * c.total / (flops * DECODE_EFFICIENCY[hw.device]) + DECODE_OVERHEAD_S[hw.device]
    eval_s = 2 * heldout * spec.max_new_tokens * per_new_token * 0.6  # answers stop early on average
    return train_s + eval_s


def _warnings(spec: ModelSpec, plan: Plan, hw: Hardware) -> list[str]:
    out = []
    if spec.needs_gpu and hw.device != "cuda":
        out.append(
            f"{spec.name} needs a GPU: on {hw.describe()} this run would take about {human_duration(plan.duration_s)}."
        )
    if plan.peak_memory_bytes > hw.usable_memory_bytes:
        out.append(
            f"Needs about {human_bytes(plan.peak_memory_bytes)} "
            f"but the worker has {human_bytes(hw.usable_memory_bytes)}."
        )
    if plan.train_examples == 0:
        out.append("No documents to learn from: share some files in this channel first.")
    return out


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit in ("B", "KB") else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
