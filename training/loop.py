"""orgtune's LoRA training loop.

Faster than a generic Trainer for this workload because it does less:
- batches are bucketed by length, so padding is a few tokens, not half the batch;
- the loss covers answer tokens only, and the LM head (a vocab-sized matmul) runs
  only at those positions instead of at every prompt token;
- cancellation and progress are checked once per optimizer step, no more.
Seeds are fixed, so the same examples give the same adapter.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    answer_start: int
    """Index of the first answer token; loss is computed from here to the end (EOS included)."""

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = field(default=2, metadata={"help": "passes over the training examples"})
    batch_size: int = field(default=4, metadata={"help": "examples per optimizer step"})
    learning_rate: float = field(default=5e-4, metadata={"help": "peak AdamW learning rate"})
    warmup_fraction: float = field(default=0.1, metadata={"help": "share of steps with a linear warm-up"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    seed: int = field(default=0, metadata={"help": "seeds Python and torch for reproducible runs"})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "recompute activations in backward"})
    autocast: bool = field(default=False, metadata={"help": "CUDA only: bf16 autocast, LoRA weights stay fp32"})
    compile: bool = field(default=False, metadata={"help": "CUDA only: torch.compile the decoder layers"})


@dataclass(frozen=True)
class Progress:
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float
    tokens_per_s: float
    elapsed_s: float

    @property
    def eta_s(self) -> float:
        return self.elapsed_s / self.step * (self.steps - self.step) if self.step else 0.0

    @property
    def fraction(self) -> float:
        return self.step / self.steps if self.steps else 1.0


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    """Training loss per optimizer step."""
    tokens: int = 0
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def encode(tokenizer: Any, messages: list[dict[str, str]]) -> Encoded:
    """Prompt through the model's chat template, then the answer tokens and EOS.

    Building the answer part by hand (rather than templating the full chat) keeps
    the prompt tokens byte-identical to what generation will see.
    """
    prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True, return_dict=False)
    answer = tokenizer.encode(messages[-1]["content"], add_special_tokens=False)
    return Encoded(list(prompt) + answer + [tokenizer.eos_token_id], len(prompt))


def buckets(items: Sequence[Encoded], batch_size: int, rng: random.Random) -> list[list[Encoded]]:
    """Batches of similar length (little padding), in a shuffled order."""
    ordered = sorted(items, key=len)
    batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(batch: Sequence[Encoded], pad_id: int, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(e) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    for row, e in enumerate(batch):
        n = len(e)
        ids[row, :n] = torch.tensor(e.input_ids)
        mask[row, :n] = 1
        labels[row, e.answer_start : n] = ids[row, e.answer_start : n]
    return ids.to(device), mask.to(device), labels.to(device)


def answer_loss(model: Any, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over answer tokens, projecting to the vocabulary only there."""
    base = _base(model)
    # use_cache=False: a KV cache is useless here and makes compiled layers recompile
    hidden = base.get_decoder()(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = base.get_output_embeddings()(hidden[:, :-1][keep])
    return F.cross_entropy(logits.float(), targets[keep])


def _base(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def evaluate_loss(model: Any, items: Sequence[Encoded], pad_id: int, device: str, batch_size: int = 4) -> float:
    """Mean answer-token loss over ``items`` (weighted by answer tokens)."""
    if not items:
        return float("nan")
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for batch in buckets(items, batch_size, random.Random(0)):
            ids, mask, labels = collate(batch, pad_id, device)
            n = int((labels[:, 1:] != IGNORE).sum())
            total += float(answer_loss(model, ids, mask, labels)) * n
            count += n
    return total / count


def train(
    model: Any,
    items: Sequence[Encoded],
    settings: TrainSettings,
    *,
    pad_id: int,
    device: str,
    on_progress: Callable[[Progress], None] = lambda p: None,
    should_stop: Callable[[], bool] = lambda: False,
    on_epoch_end: Callable[[int], None] = lambda epoch: None,
) -> TrainResult:
    """Train the model's trainable (LoRA) parameters in place."""
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    per_epoch = math.ceil(len(items) / settings.batch_size)
    steps = per_epoch * settings.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(steps, settings.warmup_fraction))
    if settings.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    on_gpu = device.startswith("cuda")
    if settings.compile and on_gpu:
        for layer in _base(model).get_decoder().layers:
            layer.compile(dynamic=True)  # batch widths vary: one graph, not a recompile per width
    result, start, step = TrainResult(), time.perf_counter(), 0
    model.train()
    for epoch in range(1, settings.epochs + 1):
        for batch in buckets(items, settings.batch_size, rng):
            if should_stop():
                result.cancelled = True
                break
            ids, mask, labels = collate(batch, pad_id, device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=settings.autocast and on_gpu):
                loss = answer_loss(model, ids, mask, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            result.losses.append(loss.item())
            result.tokens += int(mask.sum())
            result.seconds = time.perf_counter() - start
            on_progress(
                Progress(epoch, settings.epochs, step, steps, result.losses[-1], result.tokens_per_s, result.seconds)
            )
        if result.cancelled:
            break
        on_epoch_end(epoch)
    model.eval()
    return result


def _schedule(steps: int, warmup_fraction: float) -> Callable[[int], float]:
    warmup = max(1, int(steps * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        remaining = max(1, steps - warmup)
        return max(0.1, 1.0 - (step - warmup) / remaining)

    return factor
