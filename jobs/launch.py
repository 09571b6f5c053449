"""Starting a training run: plan, one-run-per-channel check, row, message, job.

Shared by ``/train``, ``@orgtune train`` and ``orgtune train`` so they behave alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis

from jobs import hardware
from jobs.train import enqueue_train, train_job_id
from orgtune import defaults
from storage import runs
from storage.channels import ChannelKey
from storage.db import Database
from storage.models import RunStatus, TrainingRun
from training.models import ModelSpec
from training.plan import Plan


class NothingToLearn(RuntimeError):
    """The channel has no ready documents."""


@dataclass
class Started:
    run_id: int
    plan: Plan


@dataclass
class Busy:
    run: TrainingRun


@functools.lru_cache(maxsize=1)
def local_hardware() -> hardware.Hardware:
    return hardware.probe()


def training_hardware(redis: Redis) -> tuple[hardware.Hardware, bool]:
    """The best live training worker's hardware, else this machine's (and False)."""
    online = hardware.online(redis, defaults.QUEUE_TRAIN)
    return (online[0], True) if online else (local_hardware(), False)


def plan_channel(db: Database, redis: Redis | None, key: ChannelKey, spec: ModelSpec) -> Plan:
    from training.dataset import build_dataset, plan_for

    hw, online = training_hardware(redis) if redis is not None else (local_hardware(), False)
    with db.session() as session:
        dataset = build_dataset(session, key, spec)
    plan = plan_for(dataset, spec, hw)
    if redis is not None and not online:
        plan.warnings.append("No training worker is online yet; the run starts when one is (`orgtune worker train`).")
    return plan


def start_run(
    db: Database,
    redis: Redis,
    key: ChannelKey,
    spec: ModelSpec,
    *,
    requested_by: str | None,
    source: str = "slack",
    thread_ts: str | None = None,
    announce: Callable[[TrainingRun], str | None] = lambda run: None,
) -> Started | Busy:
    """Create and queue a run, or report the channel's active one.

    ``announce`` posts the progress message and returns its ts; it runs after the
    row exists and before the job is queued, so the job always finds the message.
    """
    with db.session() as session:
        active = runs.active_run(session, key)
        if active is not None:
            return Busy(active)
    plan = plan_channel(db, redis, key, spec)
    if plan.train_examples == 0:
        raise NothingToLearn()
    with db.session() as session:
        run = runs.create_run(
            session,
            key,
            model=spec.name,
            base_model=spec.base_model,
            requested_by=requested_by,
            source=source,
            thread_ts=thread_ts,
            plan=plan.to_dict(),
        )
        if run is None:  # lost a race with another /train
            active = runs.active_run(session, key)
            assert active is not None
            return Busy(active)
        run_id = run.id
    try:
        ts = announce(run)
    except Exception:
        # No message, no job: the run must not stay QUEUED and block the channel's next /train.
        _refuse(db, run_id, "The plan couldn't be posted in the channel; nothing was trained.")
        raise
    with db.session() as session:
        row = runs.get(session, run_id)
        assert row is not None
        row.progress_ts, row.job_id = ts, train_job_id(run_id)
    try:
        enqueue_train(redis, run_id, plan.to_dict())
    except Exception:
        _refuse(db, run_id, "The job queue (Redis) refused the run; nothing was trained.")
        raise
    return Started(run_id, plan)


def _refuse(db: Database, run_id: int, error: str) -> None:
    with db.session() as session:
        row = runs.get(session, run_id)
        if row is not None:
            runs.set_status(row, RunStatus.FAILED, error=error)
