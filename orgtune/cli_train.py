"""Training commands of the ``orgtune`` CLI: plan, train, examples, runs."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from orgtune.cli import runtime_and_key
from orgtune.config import Config


def add_parsers(sub: Any, channel_args: Any) -> None:
    p = sub.add_parser("plan", help="what training MODEL on a channel would take (from the architecture)")
    p.add_argument("model")
    p.add_argument("--channel", "-c", help="plan for this channel's documents (default: none)")
    p.add_argument("--team", help="Slack team id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("train", help="queue a training run for a channel (like /train)")
    channel_args(p)
    p.add_argument("model")
    p.add_argument("--wait", action="store_true", help="wait for the run to finish (runs it here if no worker)")
    p.add_argument("--json", action="store_true", help="print the final run as JSON")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("examples", help="show a sample of the training examples for a channel")
    channel_args(p)
    p.add_argument("--model", default="smollm2", help="whose per-document limit to use (default: smollm2)")
    p.add_argument("-n", type=int, default=8, help="how many to show")
    p.set_defaults(func=cmd_examples)

    p = sub.add_parser("runs", help="list a channel's training runs")
    channel_args(p)
    p.set_defaults(func=cmd_runs)


def _spec(name: str, config: Config):  # type: ignore[no-untyped-def]
    """The model named on the command line (with the configured budget), or None after printing the choices."""
    from training.models import UnknownModel, budgeted, get_model

    try:
        return budgeted(get_model(name), config.facts_per_document)
    except UnknownModel as exc:
        print(f"orgtune: {exc}", file=sys.stderr)
        return None


def cmd_plan(config: Config, args: argparse.Namespace) -> int:
    from jobs.launch import local_hardware, plan_channel
    from training.dataset import Dataset, plan_for

    spec = _spec(args.model, config)
    if spec is None:
        return 2
    if args.channel:
        runtime, key = runtime_and_key(config, args)
        plan = plan_channel(runtime.db, None, key, spec)
    else:  # the model alone: parameters, adapter size, memory
        plan = plan_for(Dataset([], {}, [], []), spec, local_hardware())
    if args.json:
        print(plan.to_json())
    else:
        from bot.messages import plain
        from bot.run_messages import plan_lines

        print(f"Plan for {spec.name} ({spec.base_model}, {spec.role}):")
        print("\n".join(plain(line) for line in plan_lines(plan.to_dict())))
    return 0


def cmd_train(config: Config, args: argparse.Namespace) -> int:
    from jobs.launch import Busy, NothingToLearn, start_run
    from jobs.queues import redis_for_worker

    spec = _spec(args.model, config)
    if spec is None:
        return 2
    runtime, key = runtime_and_key(config, args)
    redis = redis_for_worker(config)
    try:
        outcome = start_run(runtime.db, redis, key, spec, requested_by=None, source="cli")
    except NothingToLearn:
        print(f"orgtune: channel {key.channel_id} has no documents; add some with `orgtune ingest`.", file=sys.stderr)
        return 1
    if isinstance(outcome, Busy):
        print(
            f"orgtune: run #{outcome.run.id} ({outcome.run.model}) is already {outcome.run.status} here.",
            file=sys.stderr,
        )
        return 1
    print(f"queued run #{outcome.run_id}: {spec.name} on {outcome.plan.examples} examples", file=sys.stderr)
    if not args.wait:
        return 0
    return _wait(config, runtime, redis, outcome.run_id, args.json)


def _wait(config: Config, runtime: Any, redis: Any, run_id: int, as_json: bool) -> int:
    from rq import Queue, SimpleWorker, Worker

    from orgtune import defaults
    from storage import runs
    from storage.models import RunStatus

    if not Worker.all(queue=Queue(defaults.QUEUE_TRAIN, connection=redis)):
        print("no worker is listening on the train queue; running the job in this process", file=sys.stderr)
        from jobs.runtime import set_runtime

        set_runtime(runtime)
        SimpleWorker([Queue(defaults.QUEUE_TRAIN, connection=redis)], connection=redis).work(burst=True)
    last = None
    while True:
        with runtime.db.session() as session:
            run = runs.get(session, run_id)
            assert run is not None
            line = _progress_line(run)
            if line != last:
                print(line, file=sys.stderr)
                last = line
            if run.status in RunStatus.FINAL:
                summary = _run_json(run)
                break
        time.sleep(1)
    print(json.dumps(summary, indent=2) if as_json else _result_text(summary))
    return 0 if summary["status"] == RunStatus.DONE else 1


def _progress_line(run: Any) -> str:
    p = run.progress or {}
    if run.status == "training" and p:
        return f"{run.status}: epoch {p['epoch']}/{p['epochs']} step {p['step']}/{p['steps']} loss {p['loss']:.3f}"
    return run.status


def _run_json(run: Any) -> dict[str, Any]:
    metrics = run.metrics or {}
    return {
        "run": run.id,
        "status": run.status,
        "model": run.model,
        "base_model": run.base_model,
        "error": run.error,
        "version": metrics.get("version"),
        "loss_before": metrics.get("before", {}).get("loss"),
        "loss_after": metrics.get("after", {}).get("loss"),
        "accuracy_before": metrics.get("before", {}).get("accuracy"),
        "accuracy_after": metrics.get("after", {}).get("accuracy"),
        "adapter_bytes": metrics.get("adapter_bytes"),
        "tokens_per_s": metrics.get("tokens_per_s"),
        "seconds": metrics.get("seconds"),
    }


def _result_text(s: dict[str, Any]) -> str:
    if s["status"] != "done":
        return f"run #{s['run']} {s['status']}: {s['error'] or ''}".strip()
    return (
        f"run #{s['run']} done: {s['model']} v{s['version']}, held-out loss {s['loss_before']:.3f} -> "
        f"{s['loss_after']:.3f}, accuracy {s['accuracy_before']:.0%} -> {s['accuracy_after']:.0%}"
    )


def cmd_examples(config: Config, args: argparse.Namespace) -> int:
    from training.dataset import build_dataset
    from training.models import budgeted, get_model

    runtime, key = runtime_and_key(config, args)
    with runtime.db.session() as session:
        dataset = build_dataset(session, key, budgeted(get_model(args.model), config.facts_per_document))
    shown = (dataset.train + dataset.heldout)[: args.n]
    print(
        f"{len(dataset.train) + len(dataset.heldout)} examples from {len(dataset.docs)} documents "
        f"({len(dataset.heldout)} held out). A sample:\n"
    )
    for ex in shown:
        where = f"{ex.document} — {ex.section}" if ex.document else "(not covered)"
        print(f"[{ex.kind}] {where}\n  Q: {ex.question}\n  A: {ex.target.replace(chr(10), chr(10) + '     ')}\n")
    return 0


def cmd_runs(config: Config, args: argparse.Namespace) -> int:
    from bot.listeners.commands import runs_text
    from bot.messages import plain

    runtime, key = runtime_and_key(config, args)
    print(plain(runs_text(runtime.db, key)))
    return 0
