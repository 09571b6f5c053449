"""How well a model picks the supporting sentence, for several RANKER_WEIGHT values (tuning, dev file only).

For each question, every sentence of the retrieved passages is scored by the
model (mean log-probability of "Quote: <sentence>\\nAnswer:") and by the ranker
(relevance); the pick is the best model score + weight x relevance. A pick is
right when the sentence contains the expected answer. Prints JSON: picks right
per weight, and how often the model found "not covered" likelier than any quote.
Run it on the dev file (samples/handbook_eval.jsonl), never on the test file.

    python bench/quote_choice.py --adapter DIR [--weights 0,0.5,1,2,4]
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
    parser.add_argument("--eval", type=Path, default=ROOT / "samples" / "handbook_eval.jsonl")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--adapter", type=Path)
    parser.add_argument("--weights", default="0,0.5,1,2,4,8")
    args = parser.parse_args()
    if "casual" in args.eval.name:
        parser.error("the casual file is the frozen test set: tune on the dev file only")

    from answering.embed import process_embedder
    from answering.engine import AdapterRef, Engine
    from answering.pipeline import candidates, quote_relevance, retrieve
    from orgtune.config import Config
    from training import prompts
    from training.dataset import documents_from_files
    from training.scoring import contains

    embedder = process_embedder()
    docs = documents_from_files(sorted(p for p in args.docs.iterdir() if p.is_file()))
    engine = Engine(Config.from_env(), device="cpu")
    ref = AdapterRef(1, args.model, args.adapter) if args.adapter else None
    weights = [float(w) for w in args.weights.split(",")]
    rows = [json.loads(line) for line in args.eval.read_text().splitlines() if line.strip()]
    right = dict.fromkeys(weights, 0)
    declined = 0
    answerable = [r for r in rows if r.get("expected") is not None]
    for row in answerable:
        context = retrieve(docs, row["question"], similarity=embedder.similarities if embedder else None)
        passages = [chunk.passage() for chunk, _ in context.passages]
        options = candidates(passages)
        texts = [f"Quote: {' '.join(s.split())}\nAnswer:" for _, s in options]
        messages = prompts.chat(row["question"], passages)
        scores = engine.score(messages, [*texts, prompts.NOT_COVERED], ref, args.model)
        relevance = [quote_relevance(s, p, context.evidence) for p, s in options]
        declined += scores[-1] > max(scores[:-1], default=float("-inf"))
        for w in weights:
            best = max(range(len(options)), key=lambda i, w=w: scores[i] + w * relevance[i])
            right[w] += contains(options[best][1], row["expected"])
    report = {
        "benchmark": "quote_choice",
        "file": args.eval.name,
        "adapter": str(args.adapter) if args.adapter else None,
        "questions": len(answerable),
        "right_by_weight": {str(w): right[w] for w in weights},
        "model_prefers_not_covered": declined,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
