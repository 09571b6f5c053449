"""Running RQ workers for orgtune's queues.

The worker process itself never initialises CUDA: RQ forks a work
horse per job, and CUDA state must not cross a fork. Jobs load models inside the
work horse (or, for warm answering, in a dedicated non-forking worker).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rq import Queue, SimpleWorker, Worker
from rq.worker import BaseWorker

from jobs import hardware
from jobs.failures import on_work_horse_killed
from jobs.queues import redis_for_worker
from jobs.runtime import Runtime, set_runtime
from orgtune import defaults
from orgtune.config import Config

ALL_QUEUES = (defaults.QUEUE_INGEST, defaults.QUEUE_TRAIN, defaults.QUEUE_ANSWER)

log = logging.getLogger(__name__)


def build_worker(config: Config, queue_names: Sequence[str] = ALL_QUEUES, name: str | None = None) -> BaseWorker:
    """A forking worker, or for the answer queue alone a non-forking one that keeps models warm."""
    unknown = sorted(set(queue_names) - set(ALL_QUEUES))
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; choose from {', '.join(ALL_QUEUES)}")
    connection = redis_for_worker(config)
    runtime = Runtime.from_config(config)
    runtime.db.upgrade()
    set_runtime(runtime)
    queues = [Queue(q, connection=connection) for q in queue_names]
    if list(queue_names) == [defaults.QUEUE_ANSWER]:
        # No fork: the model loaded by the first question serves every later one. This
        # process never forks work horses, so initialising CUDA here is safe.
        return SimpleWorker(queues, connection=connection, name=name)
    return Worker(queues, connection=connection, name=name, work_horse_killed_handler=on_work_horse_killed)


def run_worker(
    config: Config, queue_names: Sequence[str] = ALL_QUEUES, burst: bool = False, name: str | None = None
) -> bool:
    """Work until stopped (or until the queues are empty with ``burst``).

    A worker on the train queue first publishes its measured hardware (probed in a
    child process, so this process never touches CUDA) for the bot's plans, and
    fails runs left active by a worker that died.
    """
    if defaults.QUEUE_ANSWER in queue_names and len(queue_names) > 1:
        # Answering needs its own non-forking process; run it beside this one.
        others = [q for q in queue_names if q != defaults.QUEUE_ANSWER]
        with _answer_process(config, burst):
            return run_worker(config, others, burst, name)
    worker = build_worker(config, queue_names, name)
    log.info("worker %s listening on %s", worker.name, ", ".join(queue_names))
    training = defaults.QUEUE_TRAIN in queue_names
    if training:
        _prepare_training(worker)
    if defaults.QUEUE_INGEST in queue_names:
        _settle_ingestion(worker)
    try:
        return worker.work(burst=burst, logging_level=config.log_level, with_scheduler=False)
    finally:
        if training:
            hardware.withdraw(worker.connection, worker.name)


@contextmanager
def _answer_process(config: Config, burst: bool) -> Iterator[subprocess.Popen[bytes]]:
    args = [sys.executable, "-m", "orgtune", "worker", defaults.QUEUE_ANSWER, *(["--burst"] if burst else [])]
    proc = subprocess.Popen(args, env={**os.environ, **config.to_env()})
    try:
        yield proc
    finally:
        from orgtune.processes import stop_worker

        stop_worker(proc)


def _settle_ingestion(worker: BaseWorker) -> None:
    from jobs.ingest import reconcile
    from jobs.runtime import get_runtime

    requeued, failed = reconcile(get_runtime(), worker.connection)
    if requeued or failed:
        log.warning("documents left by lost ingest jobs: %d queued again, %d marked failed", requeued, failed)


def _prepare_training(worker: BaseWorker) -> None:
    from jobs.runtime import get_runtime
    from jobs.train import reconcile

    profile = hardware.probe()
    hardware.publish(worker.connection, worker.name, profile)
    log.info("training hardware: %s (%.0f GFLOP/s)", profile.describe(), profile.matmul_gflops)
    failed = reconcile(get_runtime(), worker.connection)
    if failed:
        log.warning("marked %d abandoned training run(s) failed", failed)
