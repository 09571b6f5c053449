"""Running RQ workers for orgtune's queues.

The worker process itself never imports torch or touches CUDA: RQ forks a work
horse per job, and CUDA state must not cross a fork. Jobs load models inside the
work horse (or, for warm answering, in a dedicated non-forking worker).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rq import Queue, Worker

from jobs import hardware
from jobs.failures import on_work_horse_killed
from jobs.queues import redis_for_worker
from jobs.runtime import Runtime, set_runtime
from orgtune import defaults
from orgtune.config import Config

ALL_QUEUES = (defaults.QUEUE_INGEST, defaults.QUEUE_TRAIN, defaults.QUEUE_ANSWER)

log = logging.getLogger(__name__)


def build_worker(config: Config, queue_names: Sequence[str] = ALL_QUEUES, name: str | None = None) -> Worker:
    unknown = sorted(set(queue_names) - set(ALL_QUEUES))
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; choose from {', '.join(ALL_QUEUES)}")
    connection = redis_for_worker(config)
    runtime = Runtime.from_config(config)
    runtime.db.upgrade()
    set_runtime(runtime)
    queues = [Queue(q, connection=connection) for q in queue_names]
    return Worker(queues, connection=connection, name=name, work_horse_killed_handler=on_work_horse_killed)


def run_worker(
    config: Config, queue_names: Sequence[str] = ALL_QUEUES, burst: bool = False, name: str | None = None
) -> bool:
    """Work until stopped (or until the queues are empty with ``burst``).

    A worker on the train queue first publishes its measured hardware (probed in a
    child process, so this process never touches CUDA) for the bot's plans, and
    fails runs left active by a worker that died.
    """
    worker = build_worker(config, queue_names, name)
    log.info("worker %s listening on %s", worker.name, ", ".join(queue_names))
    training = defaults.QUEUE_TRAIN in queue_names
    if training:
        _prepare_training(worker)
    try:
        return worker.work(burst=burst, logging_level=config.log_level, with_scheduler=False)
    finally:
        if training:
            hardware.withdraw(worker.connection, worker.name)


def _prepare_training(worker: Worker) -> None:
    from jobs.runtime import get_runtime
    from jobs.train import reconcile

    profile = hardware.probe()
    hardware.publish(worker.connection, worker.name, profile)
    log.info("training hardware: %s (%.0f GFLOP/s)", profile.describe(), profile.matmul_gflops)
    failed = reconcile(get_runtime(), worker.connection)
    if failed:
        log.warning("marked %d abandoned training run(s) failed", failed)
