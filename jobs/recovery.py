"""Continuous recovery: nothing stays queued or running forever.

RQ keeps the jobs in Redis; the database keeps what they are for. When the two
disagree (Redis restarted without persistence and lost its jobs, a worker or its
work horse died mid-job, a job ended without settling its row) the reconciler
settles the row, within a bounded time:

- a job lost before it started is queued again (every job is safe to run twice);
- a document or question whose job was lost while running is queued again once
  its job's time limit has passed (by then no live process can still hold it);
- a job that ended, or whose worker died, without settling its row: the row is
  failed with a message in the channel;
- a training run is failed with a message when its work horse is gone: its
  process is dead (same host) or its heartbeat is older than RUN_HEARTBEAT_STALE_S.

Each worker runs a :class:`Reconciler` thread (only ever talking to Redis and the
database, so it is safe in the worker parent that RQ forks from). It reconciles
at start, every RECOVERY_INTERVAL_S, and at once when Redis's run_id changes;
a Redis lock keeps two workers from doing it at the same time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.worker import BaseWorker, Worker

from jobs import answer, ingest, train
from jobs.queues import enqueue_ingest, ingest_job_id
from jobs.runtime import Runtime
from orgtune import defaults
from storage import documents, questions, runs
from storage.models import Document, DocumentStatus, QuestionStatus, RunStatus, TrainingRun

log = logging.getLogger(__name__)

JobState = Literal["missing", "waiting", "running", "dead", "ended"]
LOCK_KEY = "orgtune:recovery:lock"
_SWAP = """if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return false"""
"""Replace the lock's holder only if it is still the one found dead (two replacements can't both take it)."""


@dataclass
class Settled:
    """What one pass did, by kind: ``requeued`` / ``failed`` counts."""

    requeued: dict[str, int] = field(default_factory=lambda: {"documents": 0, "questions": 0, "runs": 0})
    failed: dict[str, int] = field(default_factory=lambda: {"documents": 0, "questions": 0, "runs": 0})
    announced: dict[str, int] = field(default_factory=lambda: {"documents": 0, "questions": 0, "runs": 0})
    """Rows whose job settled them but died before posting the reply: posted by the reconciler."""

    @property
    def changed(self) -> bool:
        return any(self.requeued.values()) or any(self.failed.values()) or any(self.announced.values())


def worker_alive(worker: Any) -> bool:
    """A registered worker is alive if its process exists (same host) or it heartbeat recently."""
    if worker.hostname == socket.gethostname() and worker.pid:
        return pid_alive(int(worker.pid))
    return _recent(worker.last_heartbeat, defaults.WORKER_HEARTBEAT_STALE_S)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _recent(when: datetime | None, within_s: float) -> bool:
    if when is None:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - when).total_seconds() < within_s


@dataclass(frozen=True)
class Workers:
    """RQ's registered workers: all of them, and those alive."""

    known: frozenset[str]
    live: frozenset[str]

    @classmethod
    def of(cls, connection: Redis) -> Workers:
        workers = Worker.all(connection=connection)
        return cls(frozenset(w.name for w in workers), frozenset(w.name for w in workers if worker_alive(w)))


def job_state(connection: Redis, job_id: str, workers: Workers) -> JobState:
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return "missing"
    status = job.get_status(refresh=False)
    if status == JobStatus.QUEUED and _taken_by_the_dead(connection, job, workers):
        return "dead"
    if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
        return "waiting"
    if status != JobStatus.STARTED:
        return "ended"
    if job.worker_name in workers.live:
        return "running"
    if job.worker_name in workers.known:
        return "dead"
    # Not registered at all: Redis restarted and the worker hasn't registered again yet. The job's
    # own heartbeat says whether something still works on it.
    return "running" if _recent(job.last_heartbeat, defaults.WORKER_HEARTBEAT_STALE_S) else "dead"


def _taken_by_the_dead(connection: Redis, job: Job, workers: Workers) -> bool:
    """A worker took the job off its queue (RQ registered the execution) and died before its work horse
    marked the job started: it still says "queued" but no queue holds it, and nothing would ever run it.

    Only executions since the job was last enqueued count: a job id is enqueued again (a document shared
    again, a lost job queued again) while an earlier, dead execution of it may still be on record."""
    since = job.enqueued_at
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    taken = [e for e in job.get_executions() if since is None or e.created_at >= since]
    if not taken or any(_maybe_alive(e.worker_name, e.last_heartbeat, workers) for e in taken):
        return False
    return connection.lpos(Queue(job.origin, connection=connection).key, job.id) is None


def _maybe_alive(worker_name: str, heartbeat: datetime | None, workers: Workers) -> bool:
    """Alive, or not registered at all (Redis restarted and it hasn't registered again yet) with a recent
    heartbeat: only a registered worker known to be dead, or a silent one, has lost its job."""
    if worker_name in workers.live:
        return True
    return worker_name not in workers.known and _recent(heartbeat, defaults.WORKER_HEARTBEAT_STALE_S)


def reconcile(rt: Runtime, connection: Redis, kinds: Iterable[str] = ("documents", "questions", "runs")) -> Settled:
    """One pass over the kinds this worker serves (see the module docstring)."""
    settled, live = Settled(), Workers.of(connection)
    if "documents" in kinds:
        _documents(rt, connection, live, settled)
    if "questions" in kinds:
        _questions(rt, connection, live, settled)
    if "runs" in kinds:
        _runs(rt, connection, live, settled)
    return settled


def _documents(rt: Runtime, connection: Redis, live: Workers, settled: Settled) -> None:
    lost, dead = [], []
    running_for = defaults.INGEST_JOB_TIMEOUT_S + defaults.RECOVERY_GRACE_S
    with rt.db.session() as session:
        for doc in documents.with_status(session, (DocumentStatus.QUEUED, DocumentStatus.PROCESSING), 0):
            state = job_state(connection, ingest_job_id(doc.id), live)
            if state == "missing" and _may_rerun(doc, running_for):
                lost.append(doc.id)
            elif state in ("dead", "ended"):
                dead.append(doc.id)
        # Settled, but the worker died before the reply went out: post it now (once).
        unannounced = [
            d.id
            for d in documents.unannounced(session, defaults.RECOVERY_GRACE_S)
            if job_state(connection, ingest_job_id(d.id), live) not in ("waiting", "running")
        ]
    for doc_id in lost:
        enqueue_ingest(connection, doc_id)
    for doc_id in dead:
        ingest.fail_document(rt, doc_id, "the worker reading it stopped")
    for doc_id in unannounced:
        ingest.notify(rt, doc_id)
    settled.requeued["documents"], settled.failed["documents"] = len(lost), len(dead)
    settled.announced["documents"] = len(unannounced)


def _may_rerun(doc: Document, running_for: float) -> bool:
    """Past the grace (the bot may not have enqueued it yet), and queued, or processing for longer
    than its job may run (so no live horse still has it)."""
    if _recent(doc.created_at, defaults.RECOVERY_GRACE_S):
        return False
    return doc.status == DocumentStatus.QUEUED or not _recent(doc.started_at, running_for)


def _questions(rt: Runtime, connection: Redis, live: Workers, settled: Settled) -> None:
    lost, dead = [], []
    with rt.db.session() as session:
        running_for = defaults.ANSWER_JOB_TIMEOUT_S + defaults.RECOVERY_GRACE_S
        for q in questions.pending(session, 0, 0):
            state = job_state(connection, answer.answer_job_id(q.id), live)
            settled_in = _recent(q.created_at, defaults.RECOVERY_GRACE_S)  # the bot may not have enqueued it yet
            queued_or_overdue = q.status == QuestionStatus.QUEUED or not _recent(q.started_at, running_for)
            if state == "missing" and not settled_in and queued_or_overdue:
                questions.release(session, q.id)
                lost.append(q.id)
            elif state in ("dead", "ended"):
                dead.append(q.id)
    for question_id in lost:
        answer.enqueue_answer(connection, question_id)
    for question_id in dead:
        answer.fail_question(rt, question_id, "the worker answering it stopped")
    settled.requeued["questions"], settled.failed["questions"] = len(lost), len(dead)


def _runs(rt: Runtime, connection: Redis, live: Workers, settled: Settled) -> None:
    lost, dead = [], []
    with rt.db.session() as session:
        active = session.query(TrainingRun).filter(TrainingRun.status.in_(RunStatus.ACTIVE)).all()
        for run in active:
            if _recent(run.created_at, defaults.RECOVERY_GRACE_S):
                continue  # /train may still be announcing it: its job comes next
            if run.source == "slack" and not run.progress_ts:
                if not _recent(run.created_at, 10 * defaults.RECOVERY_GRACE_S):
                    dead.append(run.id)  # the bot died while announcing it: don't let it block the channel
                continue
            state = job_state(connection, run.job_id or train.train_job_id(run.id), live)
            if run.status == RunStatus.QUEUED and run.runner is None:
                if state == "missing":
                    lost.append((run.id, run.plan))
                elif state in ("dead", "ended"):
                    dead.append(run.id)
            elif state == "ended" or (state in ("missing", "dead") and not _runner_alive(run)):
                dead.append(run.id)
        unannounced = [
            r.id
            for r in runs.unannounced(session)
            if not _recent(r.finished_at, defaults.RECOVERY_GRACE_S)  # its job is posting the results now
            and job_state(connection, r.job_id or train.train_job_id(r.id), live) not in ("waiting", "running")
        ]
    for run_id, plan in lost:
        train.enqueue_train(connection, run_id, plan)
    for run_id in dead:
        train.fail_run(rt, run_id, "the worker running it stopped")
    for run_id in unannounced:
        train.finish_message(rt, run_id)
    settled.requeued["runs"], settled.failed["runs"] = len(lost), len(dead)
    settled.announced["runs"] = len(unannounced)


def _runner_alive(run: TrainingRun) -> bool:
    """The run's work horse: its process if it is on this host, else its heartbeat."""
    host, _, pid = (run.runner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return pid_alive(int(pid))
    return _recent(run.heartbeat_at or run.started_at, defaults.RUN_HEARTBEAT_STALE_S)


class Reconciler:
    """A daemon thread that reconciles periodically and right after a Redis restart."""

    def __init__(self, rt: Runtime, connection: Redis, kinds: Iterable[str], worker: BaseWorker | None = None) -> None:
        self.rt, self.connection, self.kinds, self.worker = rt, connection, tuple(kinds), worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="orgtune-recovery", daemon=True)
        self._run_id: str | None = None
        self.passes = 0

    def start(self) -> Reconciler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def run_once(self) -> Settled | None:
        """One locked pass; None when another worker holds the lock (it does the work)."""
        token = f"{socket.gethostname()}:{os.getpid()}"
        if not self.connection.set(LOCK_KEY, token, nx=True, ex=defaults.RECOVERY_LOCK_S) and not self._take_over(
            token
        ):
            return None
        try:
            settled = reconcile(self.rt, self.connection, self.kinds)
        finally:
            if self.connection.get(LOCK_KEY) == token.encode():
                self.connection.delete(LOCK_KEY)
        self.passes += 1
        if settled.changed:
            log.warning(
                "recovery: queued again %s; failed with a message %s; replies posted for %s",
                settled.requeued,
                settled.failed,
                settled.announced,
            )
        return settled

    def _take_over(self, token: str) -> bool:
        """Take the lock from a holder on this host whose process is gone (killed mid-pass: without this, its
        lock would stop every reconciler for RECOVERY_LOCK_S, just when a replacement worker needs one)."""
        raw = self.connection.get(LOCK_KEY) or b""
        holder = raw.decode() if isinstance(raw, bytes) else str(raw)
        host, _, pid = holder.rpartition(":")
        if host != socket.gethostname() or not pid.isdigit() or pid_alive(int(pid)):
            return False
        return bool(self.connection.eval(_SWAP, 1, LOCK_KEY, holder, token, defaults.RECOVERY_LOCK_S))

    def _loop(self) -> None:
        next_pass = 0.0
        while not self._stop.is_set():
            try:
                restarted = self._redis_restarted()
                if restarted or time.monotonic() >= next_pass:
                    if restarted:
                        log.warning("Redis restarted (new run_id): registering again and reconciling now")
                        self._register_again()
                    self.run_once()
                    next_pass = time.monotonic() + defaults.RECOVERY_INTERVAL_S
            except (RedisError, OSError):
                log.warning("recovery pass skipped: Redis unavailable", exc_info=True)
            except Exception:  # never let the thread die: the next pass tries again
                log.exception("recovery pass failed")
            self._stop.wait(defaults.REDIS_WATCH_INTERVAL_S)

    def _register_again(self) -> None:
        """A Redis restart forgot this worker: register it again, or its running jobs look orphaned."""
        if self.worker is not None:
            self.connection.delete(self.worker.key)  # a heartbeat may have re-created it half-filled
            self.worker.register_birth()

    def _redis_restarted(self) -> bool:
        run_id = str(self.connection.info("server").get("run_id"))
        changed = self._run_id is not None and run_id != self._run_id
        self._run_id = run_id
        return changed
