"""The train job: examples -> LoRA run -> adapter version, with live progress in Slack.

Runs in an RQ work horse (CUDA is initialised here, never in the worker parent).
Safe to run twice: a run in a final state is not trained again. Whatever ends
the run (success, cancel, an exception, a timeout, a killed process), it ends in
a final state with a message in the channel.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Callback, Queue
from rq.job import Job

from bot import run_messages
from jobs.runtime import Runtime, get_runtime
from orgtune import defaults
from storage import runs
from storage.channels import ChannelKey
from storage.models import RunStatus, TrainingRun, utcnow
from training.loop import Progress

log = logging.getLogger(__name__)


def train_job_id(run_id: int) -> str:
    return f"train-run-{run_id}"


def job_timeout(plan: dict[str, Any] | None) -> int:
    estimate = float((plan or {}).get("duration_s") or 0)
    timeout = estimate * defaults.TRAIN_JOB_TIMEOUT_FACTOR
    return int(min(max(timeout, defaults.TRAIN_JOB_TIMEOUT_MIN_S), defaults.TRAIN_JOB_TIMEOUT_MAX_S))


def enqueue_train(connection: Redis, run_id: int, plan: dict[str, Any] | None) -> Job:
    return Queue(defaults.QUEUE_TRAIN, connection=connection).enqueue(
        "jobs.train.train_run",
        run_id,
        job_id=train_job_id(run_id),
        job_timeout=job_timeout(plan),
        result_ttl=defaults.JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        on_failure=Callback("jobs.failures.on_job_failure"),
        description=f"train run {run_id}",
    )


class Reporter:
    """Writes progress to the run row and the channel message, throttled for Slack's rate limits."""

    def __init__(self, rt: Runtime, run_id: int) -> None:
        self.rt, self.run_id = rt, run_id
        self._last = 0.0

    def phase(self, status: str) -> None:
        with self.rt.db.session() as session:
            run = _must(session, self.run_id)
            runs.set_status(run, status)
        self.refresh()

    def progress(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last < defaults.PROGRESS_UPDATE_INTERVAL_S and p.step != p.steps:
            return
        with self.rt.db.session() as session:
            run = _must(session, self.run_id)
            run.progress = {
                "epoch": p.epoch,
                "epochs": p.epochs,
                "step": p.step,
                "steps": p.steps,
                "loss": p.loss,
                "tokens_per_s": p.tokens_per_s,
                "eta_s": p.eta_s,
                "fraction": p.fraction,
                "elapsed_s": p.elapsed_s,
            }
        self.refresh()

    def refresh(self) -> None:
        """Re-render the progress message from the run row (callers decide when)."""
        self._last = time.monotonic()
        with self.rt.db.session() as session:
            run = _must(session, self.run_id)
            if run.source != "slack" or not run.progress_ts:
                return
            text, blocks = run_messages.run_message(run)
            channel, ts = run.channel_id, run.progress_ts
        try:
            self.rt.slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except Exception:  # progress is best effort; the final state is posted again at the end
            log.warning("could not update progress message of run %s", self.run_id, exc_info=True)

    def cancelled(self) -> bool:
        with self.rt.db.session() as session:
            return runs.cancel_requested(session, self.run_id)


def train_run(run_id: int) -> str:
    """RQ entry point. Returns the run's final status."""
    from training.run import Cancelled, TrainingRefused
    from training.weights import ModelUnavailable

    rt = get_runtime()
    with rt.db.session() as session:
        run = runs.get(session, run_id)
        if run is None:
            return "missing"
        if run.status in RunStatus.FINAL:
            finish_message(rt, run_id)
            return run.status
    reporter = Reporter(rt, run_id)
    try:
        with heartbeat(rt, run_id):
            _train(rt, run_id, reporter)
    except Cancelled:
        _end(rt, run_id, RunStatus.CANCELLED)
    except (TrainingRefused, ModelUnavailable) as exc:
        _end(rt, run_id, RunStatus.FAILED, str(exc))
    except Exception as exc:
        log.exception("training run %s failed", run_id)
        fail_run(rt, run_id, describe(exc))
        raise
    return finish_message(rt, run_id)


@contextmanager
def heartbeat(rt: Runtime, run_id: int) -> Iterator[None]:
    """Write the run's heartbeat every RUN_HEARTBEAT_S while this process works on it.

    Redis can lose a running job (a restart without persistence) while its work horse
    trains on; the reconciler then tells a live run from a dead one by this heartbeat.
    """
    stop = threading.Event()
    runner = f"{socket.gethostname()}:{os.getpid()}"

    def beat() -> None:
        while True:
            try:
                with rt.db.session() as session:
                    runs.touch(session, run_id, runner)
            except Exception:  # a missed beat is retried; only a long silence ends the run
                log.warning("could not write the heartbeat of run %s", run_id, exc_info=True)
            if stop.wait(defaults.RUN_HEARTBEAT_S):
                return

    thread = threading.Thread(target=beat, name=f"run-{run_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _train(rt: Runtime, run_id: int, reporter: Reporter) -> None:
    from jobs import quality  # imports torch: only ever in the work horse
    from training.dataset import build_dataset
    from training.models import budgeted, get_model
    from training.run import Cancelled, run_training
    from training.teacher import HttpTeacher

    with rt.db.session() as session:
        run = _must(session, run_id)
        key = ChannelKey(run.team_id, run.channel_id)
        spec = budgeted(get_model(run.model), rt.config.facts_per_document)
    if reporter.cancelled():
        raise Cancelled()
    reporter.phase(RunStatus.GENERATING)
    with rt.db.session() as session:
        dataset = build_dataset(session, key, spec, teacher=HttpTeacher.from_config(rt.config))
        rows = [("heldout", e.to_dict(), dataset.shas.get(e.document_id or -1)) for e in dataset.heldout]
        rows += [("train", e.to_dict(), dataset.shas.get(e.document_id or -1)) for e in dataset.train]
        runs.save_examples(session, _must(session, run_id), rows)
        current = runs.active_adapter(session, key)
        active = (
            quality.ActiveVersion(current.version, current.model, rt.artifacts.root / current.path)
            if current is not None
            else None
        )
    out_dir = rt.artifacts.channel_dir(key) / "runs" / str(run_id)
    outcome = run_training(
        spec,
        rt.config,
        dataset.train,
        dataset.heldout,
        out_dir,
        on_phase=lambda phase: reporter.phase(_PHASES.get(phase, RunStatus.TRAINING)),
        on_progress=reporter.progress,
        should_stop=reporter.cancelled,
        judge=quality.make_judge(dataset.docs, dataset.heldout, spec.name),
        active_adapter=active.path if active is not None and active.model == spec.name else None,
    )
    if outcome.train.cancelled or outcome.after is None or outcome.adapter_dir is None:
        raise Cancelled()
    metrics = {
        "before": outcome.before.to_dict(),
        "after": outcome.after.to_dict(),
        "losses": outcome.train.losses,
        "tokens_per_s": outcome.train.tokens_per_s,
        "train_seconds": outcome.train.seconds,
        "device": outcome.device,
        "adapter_bytes": outcome.adapter_bytes,
        "trainable_params": outcome.trainable_params,
        "dropped_examples": outcome.dropped,
        "examples": {"train": len(dataset.train), "heldout": len(dataset.heldout)},
        "teacher": dataset.teacher,
        "quality": {name: q.to_dict() for name, q in outcome.quality.items()},
    }
    decision = quality.decide(outcome.quality, active)
    metrics["decision"] = {
        "activated": decision.activate,
        "compared_with": decision.compared_with,
        "new_correct": decision.new_correct,
        "old_correct": decision.old_correct,
        "total": decision.total,
    }
    trained_on = [{"id": d.id, "name": d.name, "sha256": dataset.shas.get(d.id)} for d in dataset.docs]
    _complete(rt, run_id, key, spec, outcome, metrics, trained_on)


_PHASES = {"loading": RunStatus.GENERATING, "evaluating": RunStatus.EVALUATING, "training": RunStatus.TRAINING}


def _complete(
    rt: Runtime,
    run_id: int,
    key: ChannelKey,
    spec: Any,
    outcome: Any,
    metrics: dict[str, Any],
    trained_on: list[dict[str, Any]],
) -> None:
    with rt.db.session() as session:
        run = _must(session, run_id)
        if run.cancel_requested:  # a cancel that arrived during the final evaluation still wins
            runs.set_status(run, RunStatus.CANCELLED)
            return
        metrics["seconds"] = (time.time() - run.started_at.timestamp()) if run.started_at else outcome.train.seconds
        relative = Path(outcome.adapter_dir).relative_to(rt.artifacts.root)
        adapter = runs.add_adapter(
            session,
            run,
            model=spec.name,
            base_model=spec.base_model,
            path=str(relative),
            size_bytes=outcome.adapter_bytes,
            trainable_params=outcome.trainable_params,
            data_hash=outcome.data_hash,
            metrics=_summary(metrics),
            documents=trained_on,
        )
        if metrics["decision"]["activated"]:
            runs.activate(session, key, adapter)
        run.metrics = {**metrics, "version": adapter.version}
        runs.set_status(run, RunStatus.DONE)


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: metrics[k] for k in ("tokens_per_s", "seconds", "device")} | {
        "loss_before": metrics["before"]["loss"],
        "loss_after": metrics["after"]["loss"],
        "accuracy_before": metrics["before"]["accuracy"],
        "accuracy_after": metrics["after"]["accuracy"],
    }


def _end(rt: Runtime, run_id: int, status: str, error: str | None = None) -> None:
    with rt.db.session() as session:
        run = runs.get(session, run_id)
        if run is not None and run.status not in RunStatus.FINAL:
            runs.set_status(run, status, error=error)


def fail_run(rt: Runtime, run_id: int, what: str) -> None:
    """Mark a run failed (unless it already ended) and tell the channel. Idempotent."""
    _end(rt, run_id, RunStatus.FAILED, f"The run stopped: {what}.")
    finish_message(rt, run_id)


def describe(exc: BaseException) -> str:
    from jobs.failures import WorkHorseKilled

    name = type(exc).__name__
    if isinstance(exc, WorkHorseKilled):
        return str(exc)
    if "OutOfMemory" in name or isinstance(exc, MemoryError):
        return "the worker ran out of memory (try a smaller model, or a bigger GPU)"
    if "Timeout" in name:
        return "it took longer than its time limit"
    if name == "AbandonedJobError":
        return "the worker running it stopped"
    return f"an internal error ({name})"


def finish_message(rt: Runtime, run_id: int) -> str:
    """Final update of the progress message and, on success, results and the loss curve. Posted once.

    Each post is recorded on the run as soon as Slack accepts it, in its own
    transaction, so a finish repeated after a failure (RQ's failure callback, a
    second delivery) edits the message again, which changes nothing, and skips
    what is already in the channel.
    """
    with rt.db.session() as session:
        run = _must(session, run_id)
        status = run.status
        if run.notified_at is not None or run.status not in RunStatus.FINAL:
            return status
        posting = run.source == "slack" and bool(run.progress_ts)
        if posting:
            text, blocks = run_messages.run_message(run)
            rt.slack.chat_update(channel=run.channel_id, ts=str(run.progress_ts), text=text, blocks=blocks)
    if posting and status == RunStatus.DONE:
        _post_results(rt, run_id)
    with rt.db.session() as session:
        _must(session, run_id).notified_at = utcnow()
    return status


def results_thread(run: TrainingRun) -> str | None:
    """Slack threads have one level: replies go under the parent, which is the thread /train was
    asked in (``@orgtune train`` in a thread), else the progress message itself."""
    return run.thread_ts or run.progress_ts


def _post_results(rt: Runtime, run_id: int) -> None:
    from jobs.charts import loss_curve_png

    with rt.db.session() as session:
        run = _must(session, run_id)
        if not run.metrics:
            return
        version, thread = int(run.metrics["version"]), results_thread(run)
        if run.results_ts is None:
            text = run_messages.results_text(run, version, run.metrics)
            reply = rt.slack.chat_postMessage(channel=run.channel_id, thread_ts=thread, text=text)
            run.results_ts = str(reply["ts"])
    with rt.db.session() as session:
        run = _must(session, run_id)
        if run.chart_posted_at is None and run.metrics:
            png = loss_curve_png(run.metrics["losses"], f"{run.model} v{version}")
            rt.slack.files_upload_v2(
                channel=run.channel_id,
                thread_ts=thread,
                file=png,
                filename=f"loss-curve-v{version}.png",
                title=f"Training loss, v{version}",
            )
            run.chart_posted_at = utcnow()


def _must(session: Any, run_id: int) -> TrainingRun:
    run = runs.get(session, run_id)
    if run is None:
        raise LookupError(f"training run {run_id} disappeared")
    return run
