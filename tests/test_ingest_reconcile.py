"""Documents whose ingest job was lost are queued again; those whose job ended or died are failed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job

from jobs.runtime import Runtime
from orgtune.config import Config
from storage import documents
from storage.channels import ChannelKey
from storage.models import Document, DocumentStatus, utcnow
from tests.conftest import TestDatabase

KEY = ChannelKey("T-LOCAL", "C0REC")


@pytest.fixture
def runtime(tmp_path: Path, redis_url: str, test_database: TestDatabase) -> Iterator[Runtime]:
    from jobs.runtime import set_runtime
    from slackemu import SlackEmulator

    with SlackEmulator() as emulator:
        emulator.workspace.add_channel(KEY.channel_id, "reconcile")
        config = Config(
            data_dir=tmp_path,
            redis_url=redis_url,
            slack_bot_token=emulator.bot_token,
            slack_api_url=emulator.api_url,
            database_url_override=test_database.url,
        )
        rt = Runtime.from_config(config)
        rt.db.upgrade()
        set_runtime(rt)
        try:
            yield rt
        finally:
            set_runtime(None)


def _doc(rt: Runtime, name: str, status: str, age_s: float) -> int:
    with rt.db.session() as session:
        doc = documents.create(session, KEY, documents.NewDocument(name=name, source="cli"))
        doc.status, doc.created_at = status, utcnow() - timedelta(seconds=age_s)
        return doc.id


def test_lost_jobs_are_queued_again_and_ended_ones_are_failed(runtime: Runtime, redis_url: str) -> None:
    from jobs.queues import ingest_job_id
    from jobs.recovery import reconcile

    redis = Redis.from_url(redis_url)
    lost = _doc(runtime, "lost.md", DocumentStatus.QUEUED, 600)
    fresh = _doc(runtime, "just-shared.md", DocumentStatus.QUEUED, 1)  # the bot may not have enqueued it yet
    ended = _doc(runtime, "ended.md", DocumentStatus.PROCESSING, 600)
    job = Job.create("jobs.ingest.ingest_document", args=(ended,), id=ingest_job_id(ended), connection=redis)
    job.set_status("finished")
    job.save()

    settled = reconcile(runtime, redis)
    assert (settled.requeued["documents"], settled.failed["documents"]) == (1, 1)
    assert ingest_job_id(lost) in Queue("ingest", connection=redis).job_ids
    assert ingest_job_id(fresh) not in Queue("ingest", connection=redis).job_ids
    with runtime.db.session() as session:
        status = {d.name: (d.status, d.error) for d in session.query(Document).all()}
    assert status["lost.md"][0] == DocumentStatus.QUEUED and status["just-shared.md"][0] == DocumentStatus.QUEUED
    assert status["ended.md"][0] == DocumentStatus.REJECTED
    assert "the worker reading it stopped" in (status["ended.md"][1] or "")
    assert not reconcile(runtime, redis).changed  # the requeued job exists now; nothing else changes


def test_a_lock_left_by_a_killed_reconciler_is_taken_over_at_once(runtime: Runtime, redis_url: str) -> None:
    """A worker SIGKILLed mid-pass leaves the lock; its replacement must not wait RECOVERY_LOCK_S for it."""
    import socket
    import subprocess
    import sys

    from jobs.recovery import LOCK_KEY, Reconciler

    redis = Redis.from_url(redis_url)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    redis.set(LOCK_KEY, f"{socket.gethostname()}:{int(gone.stdout)}", ex=120)
    assert Reconciler(runtime, redis, ("documents",)).run_once() is not None
    assert redis.get(LOCK_KEY) is None  # released after the pass
    redis.set(LOCK_KEY, f"{socket.gethostname()}:{1}", ex=120)  # pid 1 is alive: a live holder keeps it
    assert Reconciler(runtime, redis, ("documents",)).run_once() is None
    redis.set(LOCK_KEY, "another-host:12345", ex=120)  # elsewhere: only its expiry can tell
    assert Reconciler(runtime, redis, ("documents",)).run_once() is None
    redis.delete(LOCK_KEY)


def test_a_job_taken_by_a_worker_that_died_before_starting_it_is_dead_not_waiting(redis_url: str) -> None:
    """RQ registers the execution when a worker takes a job; the job says "started" only once the work horse
    runs. A worker killed in between leaves it "queued" in no queue: the reconciler must not wait on it."""
    from rq.executions import Execution

    from jobs.recovery import Workers, job_state

    redis = Redis.from_url(redis_url)
    queue = Queue("ingest-test", connection=redis)
    job = queue.enqueue("builtins.print", job_id="taken-then-orphaned")
    assert job_state(redis, job.id, Workers(frozenset(), frozenset())) == "waiting"
    queue.remove(job)  # what the worker's dequeue does
    with redis.pipeline() as pipeline:
        Execution.create(job, 60, pipeline=pipeline, worker_name="killed-worker")
        pipeline.execute()
    assert job_state(redis, job.id, Workers(frozenset({"killed-worker"}), frozenset())) == "dead"
    unregistered = Workers(frozenset(), frozenset())  # after a Redis restart, before it registers again
    assert job_state(redis, job.id, unregistered) == "waiting"  # its execution's heartbeat is recent
    alive = Workers(frozenset({"killed-worker"}), frozenset({"killed-worker"}))
    assert job_state(redis, job.id, alive) == "waiting"  # its horse is about to mark it started
    again = queue.enqueue("builtins.print", job_id="taken-then-orphaned")  # e.g. the file shared again
    assert job_state(redis, again.id, Workers(frozenset({"killed-worker"}), frozenset())) == "waiting"
    queue.remove(again)  # taken off the queue, not yet by anyone on record: still only waiting
    assert job_state(redis, again.id, Workers(frozenset({"killed-worker"}), frozenset())) == "waiting"
    again.delete()
