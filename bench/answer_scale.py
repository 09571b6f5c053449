"""Answer latency without generation as a channel grows: 10, 100 and 1,000 documents.

A channel is filled with copies of the sample handbook's documents (each copy's
numbers and names changed, so every document is distinct and has its own content
hash), stored as READY documents in a real SQLite database. For each size, the same
questions are answered up to the model: everything `answering.pipeline.load_context`
does (documents, chunks, the index, hybrid retrieval, evidence ranking), timed three
ways in one run:

- ``rebuild_lexical``: what answering did before the per-channel index (read every
  document, chunk and index them on every question; BM25 only);
- ``cached_first``: the first question with the per-channel index (builds it and
  embeds every chunk once, storing the vectors as the answer job does);
- ``restarted_first``: the first question of a restarted worker (index rebuilt,
  vectors read back from disk);
- ``cached_warm``: the following questions (the index and chunk vectors are kept;
  only the fingerprint is read).

Prints JSON with the median and max seconds of each. Goal (issue 12): warm
retrieval + evidence <= 200 ms at 1,000 documents on a 2-core machine, and within
2x of the 10-document time.

    python bench/answer_scale.py [--sizes 10 100 1000] [--questions 10]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def variant(text: str, copy: int) -> str:
    """The text with every number shifted by ``copy`` and a copy tag, so copies differ in facts and hash."""
    return re.sub(r"\d+", lambda m: str(int(m.group()) + copy), text) + f" (site {copy})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--questions", type=int, default=10)
    args = parser.parse_args()

    from answering.channel_index import process_index_cache
    from answering.embed import process_embedder
    from answering.pipeline import load_context, retrieve
    from storage import documents
    from storage.channels import ChannelKey
    from storage.db import Database, upgrade
    from storage.documents import NewDocument, ParsedSection
    from training.dataset import channel_documents, documents_from_files

    embedder = process_embedder()
    similarity = embedder.similarities if embedder else None
    handbook = documents_from_files(sorted((ROOT / "samples" / "handbook").iterdir()))
    rows = [json.loads(x) for x in (ROOT / "samples" / "handbook_eval.jsonl").read_text().splitlines() if x.strip()]
    questions = [r["question"] for r in rows][: args.questions]
    report: dict[str, Any] = {"benchmark": "answer_scale", "embedding": embedder is not None, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scale.db"
        upgrade(url)
        db = Database(url)
        for size in args.sizes:
            key = ChannelKey("T-BENCH", f"C{size}")
            with db.session() as session:
                for n in range(size):
                    source = handbook[n % len(handbook)]
                    copy = n // len(handbook)
                    sections = [
                        ParsedSection(s.heading, 2, variant(s.text, copy), len(s.text.split())) for s in source.sections
                    ]
                    doc = documents.create(session, key, NewDocument(f"{copy}-{source.name}", source="cli"))
                    documents.mark_ready(session, doc, kind="md", title=None, pages=None, sections=sections)
                    doc.sha256 = hashlib.sha256("".join(s.text for s in sections).encode()).hexdigest()
                session.commit()

            def timed(fn: Any) -> float:
                start = time.perf_counter()
                with db.session() as session:
                    fn(session)
                return time.perf_counter() - start

            rebuild = [
                timed(lambda s, q=q, key=key: retrieve(channel_documents(s, key)[0], q, similarity=None))
                for q in questions
            ]
            prepare = partial(embedder.preload, store=Path(tmp) / key.channel_id) if embedder else None
            first = timed(lambda s, key=key, p=prepare: load_context(s, key, questions[0], Path(tmp), similarity, p))
            process_index_cache().forget()
            if embedder:
                embedder.forget()
            restarted = timed(
                lambda s, key=key, p=prepare: load_context(s, key, questions[0], Path(tmp), similarity, p)
            )
            warm = [timed(lambda s, q=q, key=key: load_context(s, key, q, Path(tmp), similarity)) for q in questions]
            with db.session() as session:
                chunks = len(process_index_cache().get(session, key).index.chunks)
            report["sizes"][str(size)] = {
                "documents": size,
                "chunks": chunks,
                "rebuild_lexical": {"median_s": round(statistics.median(rebuild), 4), "max_s": round(max(rebuild), 4)},
                "cached_first_s": round(first, 3),
                "restarted_first_s": round(restarted, 3),
                "cached_warm": {"median_s": round(statistics.median(warm), 4), "max_s": round(max(warm), 4)},
            }
    sizes = report["sizes"]
    if "10" in sizes and "1000" in sizes:
        report["warm_1000_over_10"] = round(
            sizes["1000"]["cached_warm"]["median_s"] / sizes["10"]["cached_warm"]["median_s"], 2
        )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
