"""CUDA check of orgtune's own training and answering paths (not a speed benchmark).

What it runs on the GPU, through the same functions a work horse and the answer
worker call:
1. the hardware probe in a child process (``python -m jobs.hardware``), as a
   train worker does at start, so the parent never initialises CUDA;
2. ``training.run.run_training`` on the sample handbook's examples with the tiny
   test model in bfloat16 with gradient checkpointing (mistral's and qwen's
   settings), device picked by ``pick_device``: held-out eval, LoRA training,
   eval again, adapter saved as safetensors;
3. ``answering.engine.Engine`` answering a held-out question with that adapter on
   the GPU, twice, to show the base model is loaded once.
Prints JSON; exits 2 without CUDA, 1 when a check fails.

The GPU machine has no network and no orgtune install, so the inputs travel:
    python bench/gpu_check.py --prepare .gpu     # here: examples + tiny model
    python bench/gpu_check.py --inputs .gpu      # there
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GPU_MODEL = "tiny-gpu"
"""The tiny test model registered with mistral's dtype and checkpointing for this check."""


def prepare(out: Path) -> None:
    from orgtune.config import Config
    from training.dataset import documents_from_files
    from training.examples import generate_examples
    from training.models import get_model
    from training.split import split_heldout
    from training.weights import resolve

    spec = get_model("tiny")
    docs = documents_from_files(sorted((ROOT / "samples" / "handbook").iterdir()))
    examples = generate_examples(docs, spec.max_examples_per_doc)
    train, heldout = split_heldout(examples)
    out.mkdir(parents=True, exist_ok=True)
    data = {"train": [e.to_dict() for e in train], "heldout": [e.to_dict() for e in heldout]}
    (out / "examples.json").write_text(json.dumps(data))
    tiny = resolve(spec, Config.from_env())
    shutil.copytree(tiny, out / "models" / GPU_MODEL, dirs_exist_ok=True)
    print(json.dumps({"prepared": str(out), "train": len(train), "heldout": len(heldout)}))


def check(inputs: Path, cpu: bool = False) -> int:
    import torch

    if not torch.cuda.is_available() and not cpu:
        print(json.dumps({"check": "gpu", "error": "no CUDA device"}))
        return 2
    from answering.engine import AdapterRef, Engine
    from orgtune.config import Config
    from training.examples import Example
    from training.models import MODELS, get_model
    from training.run import run_training

    MODELS[GPU_MODEL] = dataclasses.replace(
        get_model("tiny"), name=GPU_MODEL, dtype="bfloat16", gradient_checkpointing=True, gpu_fast_path=True
    )
    spec = MODELS[GPU_MODEL]
    config = Config.from_env().with_(models_dir_override=inputs / "models")
    data = json.loads((inputs / "examples.json").read_text())
    train = [Example.from_dict(d) for d in data["train"]]
    heldout = [Example.from_dict(d) for d in data["heldout"]]
    report: dict[str, object] = {"check": "gpu", "torch": torch.__version__}

    probe = subprocess.run([sys.executable, "-m", "jobs.hardware"], capture_output=True, text=True, cwd=ROOT)
    report["probe"] = json.loads(probe.stdout.strip().splitlines()[-1]) if probe.returncode == 0 else probe.stderr
    report["parent_initialised_cuda_before_training"] = torch.cuda.is_initialized()

    phases: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        outcome = run_training(spec, config, train, heldout, Path(tmp), on_phase=phases.append)
        report["training"] = {
            "device": outcome.device,
            "phases": phases,
            "seconds": round(time.perf_counter() - start, 2),
            "steps": len(outcome.train.losses),
            "loss_first": round(outcome.train.losses[0], 3),
            "loss_last": round(outcome.train.losses[-1], 3),
            "heldout_loss_before": round(outcome.before.loss, 3),
            "heldout_loss_after": round(outcome.after.loss, 3) if outcome.after else None,
            "adapter_bytes": outcome.adapter_bytes,
            "peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if not cpu else None,
        }
        engine = Engine(config)
        ref = AdapterRef(1, GPU_MODEL, outcome.adapter_dir)  # type: ignore[arg-type]
        answers = [engine.generate(heldout[0].messages()[:2], ref, GPU_MODEL) for _ in range(2)]
        model, _ = engine._bases[GPU_MODEL]
        report["answering"] = {
            "device": str(next(model.parameters()).device),
            "dtype": str(next(model.parameters()).dtype),
            "base_loads": engine.loads,
            "same_answer_twice": answers[0].text == answers[1].text,
            "new_tokens": answers[0].new_tokens,
            "warm_seconds": round(answers[1].seconds, 3),
        }
    train_report = report["training"]
    assert isinstance(train_report, dict)
    want = "cpu" if cpu else "cuda"
    ok = (
        isinstance(report["probe"], dict)
        and report["probe"].get("device") == want
        and train_report["device"] == want
        and train_report["loss_last"] < train_report["loss_first"]
        and report["answering"]["device"].startswith(want)  # type: ignore[index]
        and report["answering"]["base_loads"] == 1  # type: ignore[index]
    )
    report["ok"] = bool(ok)
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--prepare", type=Path, help="write the inputs (examples, tiny model) to this folder")
    group.add_argument("--inputs", type=Path, help="run the check with inputs prepared earlier")
    parser.add_argument("--cpu", action="store_true", help="run on CPU: tests this script without a GPU")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare)
        return 0
    return check(args.inputs, cpu=args.cpu)


if __name__ == "__main__":
    raise SystemExit(main())
