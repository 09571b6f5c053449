"""GPU training benchmark: the Mistral-7B architecture with orgtune's LoRA config.

Real shapes, random weights (no download): batch 2 x 1024 tokens, bf16, gradient
checkpointing as the model sheet sets for mistral, orgtune's training loop.
Reports tokens/s, model FLOPs utilisation (4 x params FLOPs per token, the LoRA
rule of thumb: forward 2N + activation gradients 2N; no weight gradients for
frozen weights) against the GPU's dense bf16 peak, and peak GPU memory.
Goals: MFU >= 35%, peak memory <= 24 GB. Prints JSON; exits 2 without CUDA.

    python bench/gpu_train.py [--model mistral] [--steps 10] [--seq 1024] [--batch 2]
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--answer-fraction", type=float, default=0.25, help="share of tokens in the loss")
    parser.add_argument("--no-checkpointing", action="store_true")
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
    model = get_peft_model(base, spec.lora.peft_config())
    params = sum(p.numel() for p in model.parameters())
    answer_start = int(args.seq * (1 - args.answer_fraction))
    gen = torch.Generator().manual_seed(0)

    def items(n: int) -> list[Encoded]:
        ids = torch.randint(3, config.vocab_size, (n, args.seq), generator=gen).tolist()
        return [Encoded(row, answer_start) for row in ids]

    settings = TrainSettings(epochs=1, batch_size=args.batch, gradient_checkpointing=not args.no_checkpointing)
    train(model, items(args.batch * args.warmup), settings, pad_id=0, device="cuda")
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


if __name__ == "__main__":
    raise SystemExit(main())
