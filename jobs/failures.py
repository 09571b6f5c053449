"""What happens when a job dies: the channel hears about it, nothing stays 'running'.

RQ calls :func:`on_job_failure` when a job raises, times out, or is found
abandoned by a dead worker; :func:`on_work_horse_killed` covers a work horse
killed by a signal (OOM killer, SIGKILL), which RQ reports without a callback.
"""

from __future__ import annotations

import logging
from typing import Any

from rq.job import Job

log = logging.getLogger(__name__)


def on_job_failure(job: Job, connection: Any, exc_type: Any = None, exc_value: Any = None, tb: Any = None) -> None:
    """Mark the job's document or run as failed and tell the channel (idempotent)."""
    from jobs import ingest, train
    from jobs.runtime import get_runtime

    exc = exc_value if isinstance(exc_value, BaseException) else RuntimeError("the worker stopped")
    if job.func_name == "jobs.ingest.ingest_document":
        ingest.fail_document(get_runtime(), int(job.args[0]), ingest.describe(exc))
    elif job.func_name == "jobs.train.train_run":
        train.fail_run(get_runtime(), int(job.args[0]), train.describe(exc))
    elif job.func_name == "jobs.answer.answer_question":
        from jobs import answer

        answer.fail_question(get_runtime(), int(job.args[0]), answer.describe(exc))
    elif job.func_name == "jobs.export.export_adapter":
        from jobs import export

        export.on_export_failure(job, connection, exc_type, exc, tb)
    else:
        log.error("job %s (%s) failed: %s", job.id, job.func_name, exc_value)


class WorkHorseKilled(RuntimeError):
    """The process running the job ended abruptly (killed, out of memory)."""


def on_work_horse_killed(job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
    log.error("work horse %s for job %s died (status %s)", retpid, job.id, ret_val)
    exc = WorkHorseKilled("the worker process running it was killed (out of memory?)")
    on_job_failure(job, job.connection, WorkHorseKilled, exc, None)
