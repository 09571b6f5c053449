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
