"""Answer quality without the stack: the answering pipeline over a folder of documents.

Same retrieval, prompt, generation and scoring as `orgtune eval`, but documents
come straight from files and the adapter (optional) from a directory, so prompt
and decoding changes can be measured in a minute. Prints JSON with accuracy by
kind, retrieval recall (was the expected section among the passages?) and every
question's result.

    python bench/answer_quality.py [--docs samples/handbook] [--eval samples/handbook_eval.jsonl]
                                   [--model smollm2] [--adapter DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=ROOT / "samples" / "handbook")
    parser.add_argument("--eval", type=Path, default=ROOT / "samples" / "handbook_eval.jsonl")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--adapter", type=Path, help="a trained adapter directory (default: base model)")
    parser.add_argument("--lexical", action="store_true", help="rank evidence without the embedding model")
    parser.add_argument("--only", help="run only questions containing this text")
    args = parser.parse_args()

    from answering.embed import process_embedder
    from answering.engine import AdapterRef, Engine
    from answering.pipeline import answer, retrieve
    from orgtune.config import Config
    from training.dataset import documents_from_files
    from training.scoring import is_correct

    embedder = None if args.lexical else process_embedder()
    similarity = embedder.similarities if embedder else None
    docs = documents_from_files(sorted(p for p in args.docs.iterdir() if p.is_file()))
    engine = Engine(Config.from_env(), device="cpu")
    ref = AdapterRef(1, args.model, args.adapter) if args.adapter else None
    cases = [json.loads(line) for line in args.eval.read_text().splitlines() if line.strip()]
    if args.only:
        cases = [c for c in cases if args.only.lower() in c["question"].lower()]
    results, start = [], time.perf_counter()
    for case in cases:
        context = retrieve(docs, case["question"], ref, 1 if ref else None, similarity)
        got = answer(case["question"], context, engine, args.model)
        retrieved = [(c.document, c.section) for c, _ in context.passages]
        results.append(
            {
                "question": case["question"],
                "kind": case.get("kind", "fact"),
                "expected": case["expected"],
                "correct": is_correct(case["expected"], got.text),
                "retrieved": case.get("section") is None or (case.get("document"), case.get("section")) in retrieved,
                "support": round(context.evidence[0].support, 2) if context.evidence else None,
                "relevance": round(context.evidence[0].relevance, 2) if context.evidence else None,
                "grounding": got.grounding or None,
                "answer": got.text,
                "generated": got.generated,
            }
        )
    report = {
        "benchmark": "answer_quality",
        "model": args.model,
        "adapter": str(args.adapter) if ref else None,
        "embedding": embedder is not None,
    }
    for kind in sorted({r["kind"] for r in results}):
        group = [r for r in results if r["kind"] == kind]
        report[kind] = {
            "accuracy": round(sum(r["correct"] for r in group) / len(group), 3),
            "n": len(group),
            "generated": sum(r["grounding"] == "generated" for r in group),
            "quoted": sum(r["grounding"] == "quoted" for r in group),
        }
    facts = [r for r in results if r["kind"] == "fact"]
    if facts:
        report["retrieval_recall"] = round(sum(r["retrieved"] for r in facts) / len(facts), 3)
    report["seconds"] = round(time.perf_counter() - start, 1)
    report["results"] = results
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
