"""Routine faults on real processes: nothing is lost, nothing stays queued or running, the user is told.

Each test here failed on the code before its fix. Slack's own faults (429, 5xx, resets,
a sign-in page) are in test_slack_strict.py and test_slack_files.py; worker supervision
in test_worker_supervision.py; start-up faults in test_startup.py.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

import jobs.ingest
from jobs.runtime import Runtime
from orgtune.redis_server import RedisServer
from parsing import parse_in_sandbox
from storage import documents
from storage.channels import ChannelKey
from storage.db import Database
from storage.models import Document, DocumentStatus, Question, QuestionStatus, RunStatus, TrainingRun, utcnow
from tests.conftest import SAMPLES, Stack, wait_until
from training.scoring import contains

HANDBOOK = SAMPLES / "handbook"
KEY = ChannelKey("T0ORGTUNE", "C0A")


class PrivateRedis:
    """A Redis of this test's own, since some tests restart it (on the same port)."""

    def __init__(self) -> None:
        self.server = RedisServer().start()

    @property
    def url(self) -> str:
        return self.server.url

    def restart(self) -> None:
        """Redis restarts without persistence: every queued job is gone."""
        self.server.stop()
        self.server = RedisServer(port=self.server.port).start()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    try:
        yield redis
    finally:
        redis.server.stop()


@pytest.fixture
def redis_url(private_redis: PrivateRedis) -> str:
    return private_redis.url


def _backdate(db: Database, model: Any, row_id: int, seconds: float = 120) -> None:
    """Age a row past the reconciler's grace period (rows younger than it may not have their job yet)."""
    with db.session() as session:
        row = session.get(model, row_id)
        row.created_at = utcnow() - timedelta(seconds=seconds)


# --- the database: no write lock is held while a file is parsed ----------------------------


def test_no_write_lock_is_held_while_a_file_is_parsed(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing takes up to a minute; on SQLite an open write transaction made every other writer
    (a concurrent @mention, progress) fail with "database is locked"."""
    other = Database(stack.config.database_url)
    writes: list[str] = []

    def parse_while_someone_writes(data: bytes, name: str) -> Any:
        with other.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout=100")  # fail fast instead of waiting out the lock
            conn.execute(text("UPDATE documents SET uploader = 'someone else' WHERE id = -1"))
            conn.commit()
        writes.append(name)
        return parse_in_sandbox(data, name)

    monkeypatch.setattr(jobs.ingest, "parse_in_sandbox", parse_while_someone_writes)
    rt = Runtime.from_config(stack.config)
    outcome = jobs.ingest.ingest_local_file(rt, KEY, HANDBOOK / "benefits.md")
    assert outcome.ok and writes == ["benefits.md"]

    with rt.db.session() as session:  # and the Slack path (download, then parse) the same way
        doc = documents.claim(session, KEY, documents.NewDocument(name="x", slack_file_id="F-never-fetched"))
        assert doc is not None
        doc_id = doc.id
    jobs.ingest.store_bytes(rt.db, rt.artifacts, doc_id, (HANDBOOK / "security.md").read_bytes())
    assert writes == ["benefits.md", "x"]


# --- Redis restarts: lost jobs are found again while the workers run -----------------------------


def test_a_redis_restart_loses_no_document_or_question(stack: Stack, private_redis: PrivateRedis) -> None:
    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added")
    answerer = stack.start_answerer()
    worker = stack.worker
    assert worker is not None
    wait_until(lambda: _idle(stack) >= 2, timeout=60)  # both listening (not still starting up)
    for proc in (worker, answerer):  # the workers are busy elsewhere while Redis holds the jobs
        os.kill(proc.pid, signal.SIGSTOP)
    try:
        lost = stack.driver.share_file("C0A", "U0ALICE", "expenses.md", (HANDBOOK / "expenses.md").read_bytes())
        msg, _ = stack.driver.mention("C0A", "U0ALICE", "how many vacation days do we get per year?")
        doc_id = wait_until(lambda: _doc_id(stack, "expenses.md"))
        question_id = wait_until(lambda: _question_id(stack))
        private_redis.restart()  # no persistence: both jobs are gone
        _backdate(stack.db, Document, doc_id)
        _backdate(stack.db, Question, question_id)
    finally:
        for proc in (worker, answerer):
            os.kill(proc.pid, signal.SIGCONT)
    # The workers reconnect; their reconcilers see Redis's new run_id and queue both again.
    assert stack.reply_in("C0A", lost.message.ts, timeout=90).startswith("Added *expenses.md*")
    answer = stack.ws.wait_for(
        lambda: [m for m in stack.ws.replies("C0A", msg.ts) if m.user == stack.ws.bot_user_id], timeout=180
    )
    assert len(answer) == 1 and contains(answer[0].text, "27"), answer[0].text


def _idle(stack: Stack) -> int:
    from redis import Redis
    from rq import Worker

    return sum(w.get_state() == "idle" for w in Worker.all(connection=Redis.from_url(stack.config.redis_url or "")))


def _doc_id(stack: Stack, name: str) -> int | None:
    with stack.db.session() as s:
        return s.scalar(select(Document.id).where(Document.name == name))


def _question_id(stack: Stack) -> int | None:
    with stack.db.session() as s:
        return s.scalar(select(Question.id).order_by(Question.id.desc()))


def test_a_queued_run_whose_job_was_lost_is_queued_again(stack: Stack, private_redis: PrivateRedis) -> None:
    """A lost run used to block /train in its channel until someone cancelled it."""
    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added")
    stack.driver.slash("/train", "tiny", "C0A", "U0ALICE")  # no train worker yet: the job waits in Redis
    run = wait_until(lambda: _run(stack) if (_run(stack) and _run(stack).job_id) else None)  # type: ignore[union-attr]
    private_redis.restart()
    _backdate(stack.db, TrainingRun, run.id)
    stack.start_trainer()  # its reconciler queues the run again, then trains it
    done = wait_until(lambda: (r := _run(stack)) and r.status in RunStatus.FINAL and r, timeout=240)
    assert done.status == RunStatus.DONE, done.error


def _run(stack: Stack) -> TrainingRun | None:
    with stack.db.session() as s:
        return s.scalars(select(TrainingRun).order_by(TrainingRun.id.desc())).first()


# --- posting fails past every retry --------------------------------------------------------


def test_a_plan_that_cannot_be_posted_leaves_no_phantom_run(stack: Stack) -> None:
    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added")
    stack.emulator.faults.fail("chat.postMessage", "503", times=4)  # the plan's post and all its retries
    stack.driver.slash("/train", "tiny", "C0A", "U0ALICE")
    stack.ws.wait_for(lambda: [m for m in stack.ws.messages if m.ephemeral_to and "went wrong" in m.text])
    run = _run(stack)
    assert run is not None and run.status == RunStatus.FAILED and "couldn't be posted" in (run.error or "")
    stack.driver.slash("/train", "tiny", "C0A", "U0ALICE")  # the channel isn't blocked
    stack.ws.wait_for(lambda: any("*Training `tiny`" in m.text for m in stack.ws.bot_messages("C0A")))


def test_an_answer_that_cannot_be_posted_is_not_lost(stack: Stack) -> None:
    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added")
    stack.start_answerer()
    stack.emulator.faults.fail("chat.postMessage", "503", times=4)  # the answer and all its retries
    msg, _ = stack.driver.mention("C0A", "U0ALICE", "who won the office chess tournament?")
    question_id = wait_until(lambda: _question_id(stack))
    told = stack.ws.wait_for(
        lambda: [m for m in stack.ws.replies("C0A", msg.ts) if m.user == stack.ws.bot_user_id], timeout=180
    )
    assert "Sorry, I couldn't answer that" in told[0].text
    assert wait_until(lambda: _status(stack, question_id) == QuestionStatus.FAILED)


def _status(stack: Stack, question_id: int) -> str | None:
    with stack.db.session() as s:
        q = s.get(Question, question_id)
        return q.status if q else None


def test_a_question_is_answered_once_when_its_job_runs_twice(stack: Stack) -> None:
    """RQ re-runs abandoned jobs and the reconciler re-queues lost ones: the claim keeps it to one answer."""
    from jobs.answer import answer_question
    from jobs.runtime import set_runtime

    with stack.db.session() as session:
        q = Question(team_id=KEY.team_id, channel_id="C0A", user="U0ALICE", source="cli", question="hello?")
        session.add(q)
        session.flush()
        question_id = q.id
    with stack.db.session() as session:
        from storage import questions

        assert questions.claim(session, question_id)  # another delivery of the job has it
    set_runtime(Runtime.from_config(stack.config))
    try:
        assert answer_question(question_id) == "skipped"
    finally:
        set_runtime(None)
    assert _status(stack, question_id) == QuestionStatus.ANSWERING


def test_documents_left_processing_by_a_lost_job_are_processed_again(stack: Stack) -> None:
    """A document whose job Redis lost mid-parse is queued again once its job's time limit has passed."""
    from redis import Redis

    from jobs.recovery import reconcile

    shared = stack.driver.share_file(
        "C0A", "U0ALICE", "security.md", (HANDBOOK / "security.md").read_bytes(), deliver=()
    )
    with stack.db.session() as session:
        doc = documents.claim(
            session,
            KEY,
            documents.NewDocument(
                name="security.md",
                slack_file_id=shared.file_id,
                thread_ts=shared.message.ts,
                message_ts=shared.message.ts,
            ),
        )
        assert doc is not None
        doc.status, doc.started_at = DocumentStatus.PROCESSING, utcnow()
        doc.created_at = utcnow() - timedelta(hours=1)
        doc_id = doc.id
    rt = Runtime.from_config(stack.config)
    redis = Redis.from_url(stack.config.redis_url or "")
    assert not reconcile(rt, redis, ("documents",)).changed  # it may still be parsing: left alone
    with stack.db.session() as session:
        row = session.get(Document, doc_id)
        assert row is not None
        row.started_at = utcnow() - timedelta(hours=1)  # longer than any ingest job may run
    assert reconcile(rt, redis, ("documents",)).requeued["documents"] == 1
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added *security.md*")


# --- workers killed mid-job ---------------------------------------------------------------


def _horses(pid: int) -> list[int]:
    import psutil

    return [p.pid for p in psutil.Process(pid).children()]


def test_an_ingest_worker_killed_mid_job_loses_no_file(stack: Stack) -> None:
    """kill -9 the worker and its work horse mid-download: the file is refused as our failure, with a
    reply, and sharing it again reads it."""
    stack.emulator.files.slow_s = 5.0
    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    worker = stack.worker
    assert worker is not None
    horses = wait_until(lambda: _horses(worker.pid), timeout=30)
    for pid in [*horses, worker.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.wait()
    stack.emulator.files.slow_s = 0.0
    stack.start_worker()  # a replacement: its reconciler finds the job's worker dead
    told = stack.reply_in("C0A", shared.message.ts, timeout=90)
    assert "went wrong on my side" in told and "share the file again" in told
    wait_until(lambda: _notified(stack, _doc_id(stack, "benefits.md")))  # recorded just after the reply
    again = stack.driver.reshare(shared, "U0ALICE")
    assert stack.reply_in("C0A", again.message.ts).startswith("Added *benefits.md*")


def test_an_answer_worker_killed_mid_answer_tells_the_asker(stack: Stack) -> None:
    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added")
    answerer = stack.start_answerer()
    msg, _ = stack.driver.mention("C0A", "U0ALICE", "how many vacation days do we get per year?")
    question_id = wait_until(lambda: _question_id(stack))
    wait_until(lambda: _status(stack, question_id) == QuestionStatus.ANSWERING, timeout=120, interval=0.01)
    os.kill(answerer.pid, signal.SIGKILL)
    answerer.wait()
    stack.start_answerer()  # its reconciler finds the question's job orphaned
    told = stack.ws.wait_for(
        lambda: [m for m in stack.ws.replies("C0A", msg.ts) if m.user == stack.ws.bot_user_id], timeout=120
    )
    assert len(told) == 1 and "stopped" in told[0].text and "ask again" in told[0].text.lower(), told[0].text
    assert wait_until(lambda: _status(stack, question_id) == QuestionStatus.FAILED)


def test_a_reply_lost_with_its_worker_is_posted_by_the_reconciler(stack: Stack) -> None:
    """The worker died between settling a document and posting its reply (seen in the chaos soak)."""
    from redis import Redis

    from jobs.recovery import Reconciler

    shared = stack.driver.share_file("C0A", "U0ALICE", "benefits.md", (HANDBOOK / "benefits.md").read_bytes())
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added")
    stack.ws.messages.remove(next(m for m in stack.ws.replies("C0A", shared.message.ts)))  # as if never posted
    doc_id = _doc_id(stack, "benefits.md")
    wait_until(lambda: _notified(stack, doc_id))  # the job records the reply just after posting it
    with stack.db.session() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        doc.notified_at, doc.created_at = None, utcnow() - timedelta(minutes=5)
    rt = Runtime.from_config(stack.config)
    redis = Redis.from_url(stack.config.redis_url or "")
    # This pass, or the running worker's own reconciler (they take turns under one lock), posts it.
    Reconciler(rt, redis, ("documents",)).run_once()
    assert stack.reply_in("C0A", shared.message.ts).startswith("Added *benefits.md*")
    wait_until(lambda: Reconciler(rt, redis, ("documents",)).run_once() is not None)  # a pass of our own, after
    replies = [m for m in stack.ws.replies("C0A", shared.message.ts) if m.user == stack.ws.bot_user_id]
    assert len(replies) == 1


def _notified(stack: Stack, doc_id: int | None) -> bool:
    with stack.db.session() as s:
        doc = s.get(Document, doc_id)
        return doc is not None and doc.notified_at is not None
