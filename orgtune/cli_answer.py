"""Answering commands of the ``orgtune`` CLI: ask, eval, feedback."""

from __future__ import annotations

import argparse
import json
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
    """Posted answers (what users see) of quote-only answering, the base model and the channel's active
    version, side by side on the same questions."""
    from answering.engine import AdapterRef, process_engine
    from answering.judge import Case, Judge
    from jobs.answer import evidence_similarity
    from storage import runs
    from training.dataset import channel_documents

    runtime, key = runtime_and_key(config, args)
    with runtime.db.session() as session:
        docs, _ = channel_documents(session, key)
        active = runs.active_adapter(session, key)
        ref = AdapterRef(active.id, active.model, runtime.artifacts.root / active.path) if active else None
        version = active.version if active else None
    model = ref.model if ref else config.answer_model
    items = load_questions(args.file)
    judge = Judge(docs, [Case(i["question"], i.get("expected")) for i in items], model, evidence_similarity())
    engine = process_engine(config)
    configs: list[tuple[str, Any, AdapterRef | None]] = [("quote_only", None, None), ("base", engine, None)]
    if ref is not None:
        configs.append((f"v{version}", engine, ref))
    report: dict[str, Any] = {"model": model, "questions": len(judge.cases), "configurations": {}}
    for name, answering, adapter in configs:
        quality = judge(answering, adapter)
        report["configurations"][name] = summarize(quality.to_dict())
        if not args.json:
            print(_report_text(name, report["configurations"][name]))
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def summarize(quality: dict[str, Any]) -> dict[str, Any]:
    def rate(correct: int, total: int) -> float | None:
        return round(correct / total, 4) if total else None

    return {
        "accuracy": rate(quality["correct"], quality["total"]),
        "answerable_accuracy": rate(quality["answerable_correct"], quality["answerable_total"]),
        "not_covered_accuracy": rate(quality["not_covered_correct"], quality["not_covered_total"]),
        "generated": quality["generated"],
        "quoted": quality["quoted"],
        **{k: quality[k] for k in ("correct", "total", "answerable_total", "not_covered_total", "items")},
    }


def _report_text(name: str, r: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.0%}"

    label = {"quote_only": "quote only", "base": "base model"}.get(name, name)
    return (
        f"{label:>11}: {r['correct']}/{r['total']} right ({pct(r['accuracy'])}); answerable "
        f"{pct(r['answerable_accuracy'])} of {r['answerable_total']}, not covered {pct(r['not_covered_accuracy'])} "
        f"of {r['not_covered_total']}; {r['generated']} generated, {r['quoted']} quoted"
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
