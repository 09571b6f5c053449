"""Answering's relevance gates swept on dev question files (never the frozen test file).

Each question is retrieved once and put to each configuration with every gate
open (the model is asked even when retrieval finds little); what it replied and
whether its quote verified are kept (`answering.pipeline.observe`). The gates are
then applied offline with the product's own rule (`answering.pipeline.decide`)
for every combination on a grid, so a sweep costs one model pass per question.

Prints JSON: the product's current gates and the best combinations on the grid,
ranked by the posted answers right of the last configuration (the last
adapter, else the base model) over all the files, with every configuration's
score at those gates.

    python bench/answer_thresholds.py [--docs samples/handbook]
        [--eval samples/handbook_eval.jsonl --eval samples/handbook_casual_dev.jsonl]
        [--model smollm2] [--adapter DIR ...] [--top 10]

samples/handbook_casual.jsonl is the test file: this script refuses it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV_FILES = [ROOT / "samples" / "handbook_eval.jsonl", ROOT / "samples" / "handbook_casual_dev.jsonl"]
TEST_FILE = "handbook_casual.jsonl"
GRID = {
    "not_covered_below": [round(0.2 + 0.05 * i, 2) for i in range(9)],
    "quote_min_relevance": [round(0.3 + 0.05 * i, 2) for i in range(8)],
    "min_relevance": [round(0.35 + 0.05 * i, 2) for i in range(7)],
    "confident_relevance": [0.7, 0.8, 0.9, 1.0, 1.1, 9.0],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=ROOT / "samples" / "handbook")
    parser.add_argument("--eval", type=Path, action="append", help="a dev JSONL question file (repeatable)")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--adapter", type=Path, action="append", default=[], help="a trained adapter directory")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    files = args.eval or DEV_FILES
    if any(f.name == TEST_FILE for f in files):
        parser.error(f"{TEST_FILE} is the frozen test file: thresholds are never tuned on it")

    from answering.embed import process_embedder
    from answering.engine import AdapterRef, Engine
    from answering.judge import Case, Judge
    from answering.pipeline import Gates, decide, observe
    from orgtune.config import Config
    from training.dataset import documents_from_files
    from training.scoring import is_correct

    embedder = process_embedder()
    docs = documents_from_files(sorted(p for p in args.docs.iterdir() if p.is_file()))
    engine = Engine(Config.from_env(), device="cpu")
    configs: list[tuple[str, Any, AdapterRef | None]] = [("quote_only", None, None), ("base", engine, None)]
    for n, path in enumerate(args.adapter, 1):
        configs.append((f"adapter:{path.parent.name}/{path.name}", engine, AdapterRef(n, args.model, path)))

    start = time.perf_counter()
    seen: dict[str, list[tuple[Any, str | None]]] = {name: [] for name, *_ in configs}
    for path in files:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        cases = [Case(r["question"], r.get("expected")) for r in rows]
        judge = Judge(docs, cases, args.model, embedder.similarities if embedder else None)
        for name, model, ref in configs:
            for case, context in zip(judge.cases, judge.contexts, strict=True):
                observed = observe(case.question, replace(context, adapter=ref), model, args.model, float("-inf"))
                seen[name].append((observed, case.expected))

    def score(name: str, gates: Any) -> dict[str, Any]:
        right = answerable = uncovered = quoted = posted = 0
        for observed, expected in seen[name]:
            text, _, grounding, _ = decide(observed, gates)
            ok = is_correct(expected, text)
            right += ok
            answerable += ok and expected is not None
            uncovered += ok and expected is None
            posted += grounding in ("generated", "quoted")
            quoted += grounding == "quoted"
        return {
            "right": right,
            "answerable": answerable,
            "not_covered": uncovered,
            "fallback_share": round(quoted / posted, 3) if posted else None,
        }

    target = configs[-1][0]
    n = len(seen[target])
    n_answerable = sum(e is not None for _, e in seen[target])
    ranked = []
    for values in itertools.product(*GRID.values()):
        gates = Gates(*values)
        if gates.not_covered_below > gates.min_relevance:
            continue  # the fallback quote could never be reached below the gate: an equivalent combination
        got = score(target, gates)
        ranked.append((got["right"], got["not_covered"], gates))
    ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)

    def at(gates: Any) -> dict[str, Any]:
        return {"gates": asdict(gates)} | {name: score(name, gates) for name, *_ in configs}

    report = {
        "benchmark": "answer_thresholds",
        "files": [f.name for f in files],
        "questions": n,
        "answerable": n_answerable,
        "optimised_for": target,
        "current": at(Gates()),
        "best": [at(g) for *_, g in ranked[: args.top]],
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
