"""Quote-only answering's relevance threshold on a *generated* dev set (never the frozen test file).

Every phrasing (direct, casual, terse, typo, framed) of every rule-made fact of the
documents is an answerable question; the generator's off-topic questions are the
unanswerable ones. For each threshold: how many would quote-only answering get right
(the best sentence holds the answer and clears the threshold, or an off-topic
question falls below it). Prints JSON.

    python bench/relevance_thresholds.py [--docs samples/handbook] [--facts 8] [--phrasings 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=ROOT / "samples" / "handbook")
    parser.add_argument("--facts", type=int, default=8)
    parser.add_argument("--phrasings", type=int, default=5)
    args = parser.parse_args()

    from answering.embed import process_embedder
    from answering.pipeline import retrieve
    from training.dataset import documents_from_files
    from training.examples import GENERIC_QUESTIONS, generate_examples
    from training.scoring import contains

    embedder = process_embedder()
    similarity = embedder.similarities if embedder else None
    docs = documents_from_files(sorted(p for p in args.docs.iterdir() if p.is_file()))
    examples = generate_examples(docs, args.facts, phrasings=args.phrasings)
    cases = [(e.question, e.expected) for e in examples if e.expected is not None]
    cases += [(q, None) for q in GENERIC_QUESTIONS]
    rows = []
    for question, expected in cases:
        best = (retrieve(docs, question, similarity=similarity).evidence or [None])[0]
        relevance = best.relevance if best else 0.0
        holds = best is not None and expected is not None and contains(best.text, expected)
        rows.append((relevance, holds, expected is None))
    answerable = [r for r in rows if not r[2]]
    unanswerable = [r for r in rows if r[2]]
    report: dict[str, object] = {
        "benchmark": "relevance_thresholds",
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "thresholds": {},
    }
    for t in [round(0.3 + 0.05 * i, 2) for i in range(9)]:
        right_a = sum(r[0] >= t and r[1] for r in answerable)
        right_u = sum(r[0] < t for r in unanswerable)
        report["thresholds"][str(t)] = {"right": right_a + right_u, "answerable": right_a, "not_covered": right_u}  # type: ignore[index]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
