"""Running RQ workers for orgtune's queues.

The worker process itself never initialises CUDA: RQ forks a work
horse per job, and CUDA state must not cross a fork. Jobs load models inside the
work horse (or, for warm answering, in a dedicated non-forking worker). A worker
for the answer queue and others supervises one worker of each kind
(``jobs.supervisor``).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence
from types import FrameType
from typing import Any

from rq import Queue, SimpleWorker, Worker
from rq.worker import BaseWorker

from jobs import hardware, recovery
from jobs.failures import on_work_horse_killed
from jobs.queues import redis_for_worker
from jobs.runtime import Runtime, get_runtime, set_runtime
from orgtune import defaults
from orgtune.config import Config
from orgtune.processes import die_with_parent, parent_death_signal

ALL_QUEUES = (defaults.QUEUE_INGEST, defaults.QUEUE_TRAIN, defaults.QUEUE_ANSWER)

log = logging.getLogger(__name__)


def build_worker(config: Config, queue_names: Sequence[str] = ALL_QUEUES, name: str | None = None) -> BaseWorker:
    """A forking worker, or for the answer queue alone a non-forking one that keeps models warm."""
    _check_queues(queue_names)
    connection = redis_for_worker(config)
    runtime = Runtime.from_config(config)
    runtime.db.wait_until_ready(config.startup_wait_s)  # only `orgtune db upgrade` migrates (release phase)
    set_runtime(runtime)
    queues = [Queue(q, connection=connection) for q in queue_names]
    if list(queue_names) == [defaults.QUEUE_ANSWER]:
        # No fork: the model loaded by the first question serves every later one. This
        # process never forks work horses, so initialising CUDA here is safe.
        return SimpleWorker(queues, connection=connection, name=name)
    return ForkingWorker(queues, connection=connection, name=name, work_horse_killed_handler=on_work_horse_killed)


class ForkingWorker(Worker):
    """RQ's forking worker, tied to the processes around it so that none is left unwatched.

    - Its work horse gets PDEATHSIG=SIGKILL (a fork clears the setting): a horse whose
      worker was killed would run on alone, holding its GPU and its job.
    - Started by a supervisor with PDEATHSIG, a SIGTERM that finds its parent gone is
      that signal: the supervisor was killed and nobody will follow up with the cold
      stop, so the horse is killed now (``on_work_horse_killed`` fails its job with a
      message) instead of running for hours as an orphan. A worker run by hand keeps
      RQ's warm shutdown on SIGTERM whatever its parent did.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parent_pid = os.getppid()
        self._own_pid = os.getpid()  # read in the horse, where getpid() is the horse's
        self._supervised = parent_death_signal() != 0

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        if self._supervised and self.horse_pid and os.getppid() != self._parent_pid:
            self.log.warning("Worker %s: its supervisor is gone; killing horse %s", self.name, self.horse_pid)
            self.kill_horse()
        super().request_stop(signum, frame)

    def setup_work_horse_signals(self) -> None:
        super().setup_work_horse_signals()
        die_with_parent(signal.SIGKILL, self._own_pid)


def _check_queues(queue_names: Sequence[str]) -> None:
    unknown = sorted(set(queue_names) - set(ALL_QUEUES))
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; choose from {', '.join(ALL_QUEUES)}")


def run_worker(
    config: Config, queue_names: Sequence[str] = ALL_QUEUES, burst: bool = False, name: str | None = None
) -> bool:
    """Work until stopped (or until the queues are empty with ``burst``).

    A worker on the train queue first publishes its measured hardware (probed in a
    child process, so this process never touches CUDA) for the bot's plans, and
    fails runs left active by a worker that died.

    The answer queue with others: this process supervises a forking worker for the
    others and a non-forking one for answers (``jobs.supervisor``) and returns False
    (its children do the jobs), or exits with status 1 when it gives up on a child.
    """
    others = [q for q in dict.fromkeys(queue_names) if q != defaults.QUEUE_ANSWER]
    if defaults.QUEUE_ANSWER in queue_names and others:
        from jobs.supervisor import supervise

        _check_queues(queue_names)  # here, not in a child that would fail and be restarted
        status = supervise(config, others, burst, name)
        if status:
            raise SystemExit(status)
        return False
    worker = build_worker(config, queue_names, name)
    log.info("worker %s listening on %s", worker.name, ", ".join(queue_names))
    training = defaults.QUEUE_TRAIN in queue_names
    if training:
        _prepare_training(worker)
    reconciler = start_recovery(worker, queue_names)  # its first pass runs now, then every RECOVERY_INTERVAL_S
    try:
        return worker.work(burst=burst, logging_level=config.log_level, with_scheduler=False)
    finally:
        reconciler.stop()
        if training:
            hardware.withdraw(worker.connection, worker.name)


def recovery_kinds(queue_names: Sequence[str]) -> tuple[str, ...]:
    """What a worker's reconciler looks after: the rows of the queues it serves."""
    kinds = {defaults.QUEUE_INGEST: "documents", defaults.QUEUE_ANSWER: "questions", defaults.QUEUE_TRAIN: "runs"}
    return tuple(kinds[q] for q in queue_names if q in kinds)


def start_recovery(worker: BaseWorker, queue_names: Sequence[str]) -> recovery.Reconciler:
    """Continuous recovery beside RQ's loop (a thread: Redis and the database only, never CUDA)."""
    return recovery.Reconciler(get_runtime(), worker.connection, recovery_kinds(queue_names), worker).start()


def _prepare_training(worker: BaseWorker) -> None:
    profile = hardware.probe()
    hardware.publish(worker.connection, worker.name, profile)
    log.info("training hardware: %s (%.0f GFLOP/s)", profile.describe(), profile.matmul_gflops)
