"""Redis connections and enqueueing. Every job gets an id, a timeout and a failure hook."""

from __future__ import annotations

import time

from redis import Redis
from rq import Callback, Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from orgtune import defaults
from orgtune.config import Config


def redis_for_bot(config: Config) -> Redis:
    """A connection with short timeouts: the bot must never block a Slack ack on Redis."""
    config.require("redis_url")
    assert config.redis_url
    return Redis.from_url(
        config.redis_url,
        socket_timeout=defaults.REDIS_SOCKET_TIMEOUT_S,
        socket_connect_timeout=defaults.REDIS_SOCKET_TIMEOUT_S,
    )


def redis_for_worker(config: Config) -> Redis:
    config.require("redis_url")
    assert config.redis_url
    return Redis.from_url(config.redis_url)


def ingest_job_id(document_id: int) -> str:
    return f"ingest-doc-{document_id}"


def _drop_ended(connection: Redis, job_id: str) -> None:
    """A document processed again (re-shared after an internal failure) reuses its job id; RQ keeps
    the ended job for a week, so remove it (and its registry entries) first.

    The failed attempt tells the channel before RQ records its end, so a quick re-share can
    find it still "started" for a moment: wait for that (bounded), never enqueue over it.
    """
    deadline = time.monotonic() + defaults.INGEST_REQUEUE_WAIT_S
    while True:
        try:
            job = Job.fetch(job_id, connection=connection)
        except NoSuchJobError:
            return
        status = job.get_status()
        if status in (JobStatus.FAILED, JobStatus.FINISHED, JobStatus.STOPPED, JobStatus.CANCELED):
            job.delete()
            return
        if status != JobStatus.STARTED or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def enqueue_ingest(connection: Redis, document_id: int) -> Job:
    """Queue the ingestion of one stored document row (by id)."""
    queue = Queue(defaults.QUEUE_INGEST, connection=connection)
    _drop_ended(connection, ingest_job_id(document_id))
    return queue.enqueue(
        "jobs.ingest.ingest_document",
        document_id,
        job_id=ingest_job_id(document_id),
        job_timeout=defaults.INGEST_JOB_TIMEOUT_S,
        result_ttl=defaults.JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        on_failure=Callback("jobs.failures.on_job_failure"),
        description=f"ingest document {document_id}",
    )
