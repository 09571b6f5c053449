"""Answering commands of the ``orgtune`` CLI: ask, eval, feedback."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from orgtune.cli import runtime_and_key
from orgtune.config import Config


def add_parsers(sub: Any, channel_args: Any) -> None:
    p = sub.add_parser("ask", help="ask a channel's assistant a question (as @orgtune would answer)")
    channel_args(p)
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print JSON: answer, sources, adapter, seconds")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score a channel's assistant on a JSONL file of questions")
    channel_args(p)
    p.add_argument("file", type=Path, help='one {"question": ..., "expected": ... or null} per line')
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("feedback", help="list the Helpful / Not helpful votes on a channel's answers")
    channel_args(p)
    p.set_defaults(func=cmd_feedback)


def cmd_ask(config: Config, args: argparse.Namespace) -> int:
    from jobs.answer import answer_for
    from storage.models import Question

    runtime, key = runtime_and_key(config, args)
    ans = answer_for(runtime, key, args.question)
    with runtime.db.session() as session:
        session.add(
            Question(
                team_id=key.team_id,
                channel_id=key.channel_id,
                source="cli",
                question=ans.question,
                status="answered",
                answer=ans.text,
                covered=ans.covered,
                sources=ans.to_dict()["sources"],
                adapter_id=ans.adapter_id,
                adapter_version=ans.adapter_version,
                model=ans.model,
                seconds=ans.seconds,
            )
        )
    if args.json:
        print(json.dumps(ans.to_dict(), indent=2))
        return 0
    print(ans.text)
    for s in ans.sources:
        print(f"  source: {s.document} — {s.section}")
    who = f"v{ans.adapter_version}" if ans.adapter_version else "the base model"
    print(f"  ({who}, {ans.model}, {ans.seconds:.1f} s)")
    return 0


def load_questions(path: Path) -> list[dict[str, Any]]:
    items = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if "question" not in item:
            raise SystemExit(f'{path}:{n}: each line needs a "question" (and "expected", or null)')
        items.append(item)
    return items


def cmd_eval(config: Config, args: argparse.Namespace) -> int:
    from jobs.answer import answer_for
    from training.scoring import is_correct

    runtime, key = runtime_and_key(config, args)
    results = []
    for item in load_questions(args.file):
        ans = answer_for(runtime, key, item["question"])
        ok = is_correct(item.get("expected"), ans.text)  # what the user is shown
        results.append(
            {
                "question": item["question"],
                "expected": item.get("expected"),
                "answer": ans.text,
                "correct": ok,
                "grounding": ans.grounding or None,
                "sources": ans.to_dict()["sources"],
                "seconds": round(ans.seconds, 2),
            }
        )
        if not args.json:
            print(
                f"{'✓' if ok else '✗'} {item['question']}\n    expected {item.get('expected')!r}; got: "
                f"{ans.text[:160]!r}",
                file=sys.stderr,
            )
    report = summarize(results, ans.adapter_version if results else None)
    print(json.dumps(report, indent=2) if args.json else _report_text(report))
    return 0


def summarize(results: list[dict[str, Any]], version: int | None) -> dict[str, Any]:
    factual = [r for r in results if r["expected"] is not None]
    uncovered = [r for r in results if r["expected"] is None]

    def rate(rows: list[dict[str, Any]]) -> float | None:
        return round(sum(r["correct"] for r in rows) / len(rows), 4) if rows else None

    return {
        "adapter": f"v{version}" if version else None,
        "questions": len(results),
        "accuracy": rate(results),
        "factual_accuracy": rate(factual),
        "not_covered_accuracy": rate(uncovered),
        "results": results,
    }


def _report_text(r: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.0%}"

    return (
        f"{r['questions']} questions, answered by {r['adapter'] or 'the base model'}: accuracy {pct(r['accuracy'])} "
        f"(factual {pct(r['factual_accuracy'])}, not covered {pct(r['not_covered_accuracy'])})"
    )


def cmd_feedback(config: Config, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from storage.models import Question

    runtime, key = runtime_and_key(config, args)
    with runtime.db.session() as session:
        rows = session.scalars(
            select(Question)
            .where(
                Question.team_id == key.team_id, Question.channel_id == key.channel_id, Question.feedback.is_not(None)
            )
            .order_by(Question.id)
        ).all()
        if not rows:
            print("No feedback yet in this channel.")
        for q in rows:
            version = f"v{q.adapter_version}" if q.adapter_version else "base"
            print(f"{q.feedback:12} {version:5} Q: {q.question}\n{'':18} A: {(q.answer or '')[:200]}")
    return 0
