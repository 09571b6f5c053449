"""Training throughput: orgtune's loop vs a plain transformers Trainer + peft, same data, same model.

Both train SmolLM2-135M with the same LoRA config on the same examples (generated
from the sample handbook), one epoch, batch size 4, on this machine's CPU (or GPU).
Runs alternate (reference, orgtune) ``--repeats`` times; the speedup is the
median over repeats, with every run, the share of tokens that are answer tokens
(orgtune's loop saves most where answers are short) and the torch / transformers /
peft versions in the JSON. Prints JSON. Goal: orgtune >= 1.5x the reference on CPU.

    .venv/bin/python bench/train_throughput.py [--examples 24] [--model smollm2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def handbook_examples(n: int):  # type: ignore[no-untyped-def]
    from training.dataset import documents_from_files
    from training.examples import generate_examples

    docs = documents_from_files(sorted((ROOT / "samples" / "handbook").iterdir()))
    return generate_examples(docs, max_per_doc=20)[:n]


def run_orgtune(model, tokenizer, items, batch_size: int, device: str) -> float:  # type: ignore[no-untyped-def]
    from training.loop import TrainSettings, train

    start = time.perf_counter()
    train(model, items, TrainSettings(epochs=1, batch_size=batch_size), pad_id=tokenizer.pad_token_id, device=device)
    return time.perf_counter() - start


def run_reference(model, tokenizer, items, batch_size: int) -> float:  # type: ignore[no-untyped-def]
    """transformers.Trainer with default settings, answer-only labels via the standard -100 masking."""
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    rows = [
        {
            "input_ids": e.input_ids,
            "attention_mask": [1] * len(e),
            "labels": [-100] * e.answer_start + e.input_ids[e.answer_start :],
        }
        for e in items
    ]
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=batch_size,
            num_train_epochs=1,
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=rows, data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True)
        )
        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # Trainer prints a metrics dict; keep stdout JSON
            trainer.train()
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--examples", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import peft
    import torch
    import transformers
    from peft import get_peft_model

    from orgtune.config import Config
    from training.loop import encode
    from training.models import get_model
    from training.run import pick_device
    from training.weights import load

    spec, config, device = get_model(args.model), Config.from_env(), pick_device()
    examples = handbook_examples(args.examples)
    runs: dict[str, list[float]] = {"reference": [], "orgtune": []}
    tokens = answer_tokens = 0
    for _ in range(args.repeats):
        for name in ("reference", "orgtune"):
            torch.manual_seed(0)
            base, tokenizer = load(spec, config, device)
            model = get_peft_model(base, spec.lora.peft_config())
            items = [encode(tokenizer, ex.messages()) for ex in examples]
            tokens = sum(len(e) for e in items)
            answer_tokens = sum(len(e) - e.answer_start for e in items)
            if name == "orgtune":
                seconds = run_orgtune(model, tokenizer, items, args.batch_size, device)
            else:
                seconds = run_reference(model, tokenizer, items, args.batch_size)
            runs[name].append(tokens / seconds)
            del model, base
    speedups = [o / r for r, o in zip(runs["reference"], runs["orgtune"], strict=True)]
    speedup = statistics.median(speedups)
    print(
        json.dumps(
            {
                "benchmark": "train_throughput",
                "model": spec.name,
                "device": device,
                "threads": torch.get_num_threads(),
                "versions": {
                    "python": platform.python_version(),
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "peft": peft.__version__,
                },
                "examples": len(examples),
                "tokens": tokens,
                "answer_token_share": round(answer_tokens / tokens, 3),
                "batch_size": args.batch_size,
                "repeats": args.repeats,
                **{
                    name: {
                        "tokens_per_s_median": round(statistics.median(tps), 1),
                        "tokens_per_s": [round(t, 1) for t in tps],
                    }
                    for name, tps in runs.items()
                },
                "speedups": [round(x, 2) for x in speedups],
                "speedup": round(speedup, 2),
                "goal_speedup": 1.5,
                "meets_goal": speedup >= 1.5,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
