"""Answer quality as users see it: every configuration on every question file, side by side, in one run.

Documents come straight from files; each question goes through the answering
pipeline (`answering.judge`, the same retrieval, generation, verification and
fallback `orgtune eval` and a training run use) with each configuration:

- ``quote_only``: the ranker's best sentence, no model;
- ``base``: the base model;
- ``adapter`` (one per ``--adapter DIR``): a trained adapter.

Prints JSON: per file and configuration, posted-answer accuracy with a 95%
Wilson interval, answerable and "not covered" accuracy, answerable questions
refused, how many answers were generated (verified) or quoted (fallback), and
the same by question kind; ``--items`` adds every answer.

    python bench/answer_quality.py [--docs samples/handbook]
        [--eval samples/handbook_eval.jsonl --eval samples/handbook_casual.jsonl]
        [--model smollm2] [--adapter DIR ...] [--lexical] [--items]

samples/handbook_eval.jsonl is the dev file (thresholds were chosen on it);
samples/handbook_casual.jsonl was frozen before any tuning and is the test file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_FILES = [ROOT / "samples" / "handbook_eval.jsonl", ROOT / "samples" / "handbook_casual.jsonl"]


def wilson(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sound for small n and for 0% or 100%)."""
    if not total:
        return (0.0, 0.0)
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3))


def rate(items: list[dict[str, Any]]) -> dict[str, Any]:
    n, k = len(items), sum(i["correct"] for i in items)
    return {"correct": k, "n": n, "accuracy": round(k / n, 3) if n else None, "ci95": wilson(k, n)}


def summary(items: list[dict[str, Any]], kinds: dict[str, str]) -> dict[str, Any]:
    answerable = [i for i in items if i["expected"] is not None]
    uncovered = [i for i in items if i["expected"] is None]
    posted = [i for i in items if i["grounding"] in ("generated", "quoted")]
    quoted = sum(i["grounding"] == "quoted" for i in posted)
    return {
        "all": rate(items),
        "answerable": rate(answerable),
        "not_covered": rate(uncovered),
        "refused_answerable": sum(1 for i in answerable if i["grounding"] in ("", "declined")),
        "generated": len(posted) - quoted,
        "quoted": quoted,
        "quote_fallback_share": round(quoted / len(posted), 3) if posted else None,
        "by_kind": {
            kind: rate([i for i in items if kinds[i["question"]] == kind]) for kind in sorted(set(kinds.values()))
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=ROOT / "samples" / "handbook")
    parser.add_argument("--eval", type=Path, action="append", help="a JSONL question file (repeatable)")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--adapter", type=Path, action="append", default=[], help="a trained adapter directory")
    parser.add_argument("--no-base", action="store_true", help="skip the base model")
    parser.add_argument("--lexical", action="store_true", help="rank evidence without the embedding model")
    parser.add_argument("--items", action="store_true", help="include every question's answers")
    args = parser.parse_args()

    from answering.embed import process_embedder
    from answering.engine import AdapterRef, Engine
    from answering.judge import Case, Judge
    from orgtune.config import Config
    from training.dataset import documents_from_files

    embedder = None if args.lexical else process_embedder()
    docs = documents_from_files(sorted(p for p in args.docs.iterdir() if p.is_file()))
    engine = Engine(Config.from_env(), device="cpu")

    configs: list[tuple[str, Any, AdapterRef | None]] = [("quote_only", None, None)]
    if not args.no_base:
        configs.append(("base", engine, None))
    for n, path in enumerate(args.adapter, 1):
        configs.append((f"adapter:{path.parent.name}/{path.name}", engine, AdapterRef(n, args.model, path)))

    report: dict[str, Any] = {
        "benchmark": "answer_quality",
        "model": args.model,
        "adapters": [str(p) for p in args.adapter],
        "embedding": embedder is not None,
        "files": {},
    }
    start = time.perf_counter()
    for path in args.eval or DEFAULT_FILES:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        kinds = {
            r["question"]: r.get("kind") or ("fact" if r.get("expected") is not None else "not_covered") for r in rows
        }
        judge = Judge(
            docs,
            [Case(r["question"], r.get("expected")) for r in rows],
            args.model,
            embedder.similarities if embedder else None,
        )
        out: dict[str, Any] = {}
        for name, model, ref in configs:
            quality = judge(model, ref)
            items = quality.to_dict()["items"]
            out[name] = summary(items, kinds) | ({"items": items} if args.items else {})
        report["files"][path.name] = out
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
