"""GPU training benchmark: the Mistral-7B architecture with orgtune's LoRA config.

Real shapes, random weights (no download): batch 2 x 1024 tokens, bf16, gradient
checkpointing, bf16 autocast and compiled layers as the model sheet sets for
mistral, orgtune's training loop (--no-fast-path: without autocast and compile).
Reports tokens/s, model FLOPs utilisation (4 x params FLOPs per token, the LoRA
rule of thumb: forward 2N + activation gradients 2N; no weight gradients for
frozen weights) against the GPU's dense bf16 peak, and peak GPU memory.
Goals: MFU >= 35%, peak memory <= 24 GB. Prints JSON; exits 2 without CUDA.

    python bench/gpu_train.py [--model mistral] [--steps 10] [--seq 1024] [--batch 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0}
"""Dense (no sparsity) bf16 tensor-core peaks from the vendors' datasheets."""


def peak_tflops(name: str) -> float | None:
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in name:
            return value
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="mistral")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--answer-fraction", type=float, default=0.25, help="share of tokens in the loss")
    parser.add_argument("--no-checkpointing", action="store_true")
    parser.add_argument("--no-fast-path", action="store_true", help="no bf16 autocast and no torch.compile")
    parser.add_argument("--no-compile", action="store_true", help="bf16 autocast without torch.compile")
    parser.add_argument("--lora-dropout", type=float, default=None, help="override the sheet's LoRA dropout")
    parser.add_argument("--profile", type=Path, help="write a CUDA kernel profile of 2 steps here")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print(json.dumps({"benchmark": "gpu_train", "error": "no CUDA device"}))
        return 2
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from training.loop import Encoded, TrainSettings, train
    from training.models import get_model
    from training.weights import architecture_config

    spec = get_model(args.model)
    torch.manual_seed(0)
    config = architecture_config(spec)
    with torch.device("cuda"):
        base = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa")
    for p in base.parameters():
        p.requires_grad_(False)
    lora = spec.lora if args.lora_dropout is None else dataclasses.replace(spec.lora, dropout=args.lora_dropout)
    model = get_peft_model(base, lora.peft_config())
    params = sum(p.numel() for p in model.parameters())
    answer_start = int(args.seq * (1 - args.answer_fraction))
    gen = torch.Generator().manual_seed(0)

    def items(n: int) -> list[Encoded]:
        ids = torch.randint(3, config.vocab_size, (n, args.seq), generator=gen).tolist()
        return [Encoded(row, answer_start) for row in ids]

    settings = TrainSettings(
        epochs=1,
        batch_size=args.batch,
        gradient_checkpointing=not args.no_checkpointing,
        autocast=spec.gpu_fast_path and not args.no_fast_path,
        compile=spec.gpu_fast_path and not (args.no_fast_path or args.no_compile),
    )
    warm_start = time.perf_counter()
    train(model, items(args.batch * args.warmup), settings, pad_id=0, device="cuda")
    torch.cuda.synchronize()
    warmup_s = time.perf_counter() - warm_start
    if args.profile:
        profile(model, items(args.batch * 2), settings, args.profile)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = train(model, items(args.batch * args.steps), settings, pad_id=0, device="cuda")
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    tokens_per_s = args.batch * args.seq * args.steps / seconds
    name = torch.cuda.get_device_name(0)
    peak = peak_tflops(name)
    mfu = 4 * params * tokens_per_s / (peak * 1e12) if peak else None
    peak_mem = torch.cuda.max_memory_allocated()
    print(
        json.dumps(
            {
                "benchmark": "gpu_train",
                "model": spec.name,
                "device": name,
                "params": params,
                "batch": args.batch,
                "seq": args.seq,
                "steps": args.steps,
                "gradient_checkpointing": not args.no_checkpointing,
                "autocast": settings.autocast,
                "compile": settings.compile,
                "lora_dropout": lora.dropout,
                "warmup_s": round(warmup_s, 1),
                "tokens_per_s": round(tokens_per_s, 1),
                "step_s": round(seconds / args.steps, 3),
                "mfu": round(mfu, 4) if mfu else None,
                "peak_tflops_bf16": peak,
                "peak_memory_gb": round(peak_mem / 1e9, 2),
                "final_loss": round(result.losses[-1], 3),
                "goals": {"mfu": 0.35, "peak_memory_gb": 24},
                "meets_goals": bool(mfu and mfu >= 0.35 and peak_mem <= 24e9),
            },
            indent=2,
        )
    )
    return 0


def profile(model, batch, settings, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Top CUDA kernels over two steps, and how busy the GPU was (kernel time / wall time)."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from training.loop import train

    with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        train(model, batch, settings, pad_id=0, device="cuda")
        torch.cuda.synchronize()
        wall = time.perf_counter() - start
    events = prof.key_averages()
    kernel_us = sum(e.self_device_time_total for e in events if e.device_type.name == "CUDA")
    table = events.table(sort_by="self_cuda_time_total", row_limit=30, max_name_column_width=70)
    path.write_text(f"wall {wall:.3f} s, kernels {kernel_us / 1e6:.3f} s, busy {kernel_us / 1e6 / wall:.1%}\n{table}\n")


if __name__ == "__main__":
    raise SystemExit(main())
