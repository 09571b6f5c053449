"""Redis connections and enqueueing. Every job gets an id, a timeout and a failure hook."""

from __future__ import annotations

from redis import Redis
from rq import Callback, Queue
from rq.job import Job

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


def enqueue_ingest(connection: Redis, document_id: int) -> Job:
    """Queue the ingestion of one stored document row (by id)."""
    queue = Queue(defaults.QUEUE_INGEST, connection=connection)
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
