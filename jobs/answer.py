"""The answer job: runs in a non-forking worker that keeps the model warm between questions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from redis import Redis
from rq import Callback, Queue
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from answering.embed import process_embedder
from answering.engine import process_engine
from answering.evidence import Similarity
from answering.pipeline import Answer, answer, load_context
from bot.answer_messages import answer_blocks
from bot.messages import escape, truncate
from jobs.failures import WorkHorseKilled
from jobs.runtime import Runtime, get_runtime
from orgtune import defaults
from orgtune.logs import redact
from storage import questions
from storage.channels import ChannelKey
from storage.models import Question, QuestionStatus
from training.weights import ModelUnavailable

log = logging.getLogger(__name__)

WORKING_REACTION = "hourglass_flowing_sand"


def answer_job_id(question_id: int) -> str:
    return f"answer-question-{question_id}"


def enqueue_answer(connection: Redis, question_id: int) -> Job:
    return Queue(defaults.QUEUE_ANSWER, connection=connection).enqueue(
        "jobs.answer.answer_question",
        question_id,
        job_id=answer_job_id(question_id),
        job_timeout=defaults.ANSWER_JOB_TIMEOUT_S,
        result_ttl=defaults.JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        on_failure=Callback("jobs.failures.on_job_failure"),
        description=f"answer question {question_id}",
    )


def answer_for(rt: Runtime, key: ChannelKey, question: str) -> Answer:
    """Answer in-process (the CLI, eval and the job share this)."""
    embedder = process_embedder()
    prepare = partial(embedder.preload, store=rt.artifacts.vectors_dir(key)) if embedder else None
    with rt.db.session() as session:
        context = load_context(session, key, question, rt.artifacts.root, evidence_similarity(), prepare)
    return answer(question, context, process_engine(rt.config), rt.config.answer_model)


def evidence_similarity() -> Similarity | None:
    embedder = process_embedder()
    return embedder.similarities if embedder else None


def answer_question(question_id: int) -> str:
    """RQ entry point: answer a stored question once and post it where it was asked."""
    rt = get_runtime()
    with rt.db.session() as session:
        if not questions.claim(session, question_id):
            return "skipped"  # answered, failed, or being answered by another delivery of this job
        q = session.get(Question, question_id)
        assert q is not None
        key, text = ChannelKey(q.team_id, q.channel_id), q.question
    ans = answer_for(rt, key, text)
    with rt.db.session() as session:  # committed before posting: what the channel sees is on record
        q = session.get(Question, question_id)
        assert q is not None
        q.answer, q.covered, q.seconds, q.model = ans.text, ans.covered, ans.seconds, ans.model
        q.generated, q.sources = ans.generated, ans.to_dict()["sources"]
        q.adapter_id, q.adapter_version = ans.adapter_id, ans.adapter_version
    with rt.db.session() as session:
        q = session.get(Question, question_id)
        assert q is not None
        post_answer(rt, q, ans.to_dict())
        # Answered only once it is in the channel: if posting fails past its retries, the job's
        # failure hook still finds it pending, fails it and tells the person.
        q.status = QuestionStatus.ANSWERED
    return "answered"


def post_answer(rt: Runtime, q: Question, ans: dict[str, Any]) -> None:
    if q.source not in ("mention", "slash"):
        return
    text, blocks = answer_blocks(ans, q.id, q.user, quote_question=q.source == "slash")
    reply = rt.slack.chat_postMessage(
        channel=q.channel_id, thread_ts=q.thread_ts, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
    )
    q.reply_ts = reply["ts"]
    _unreact(rt, q)


def _unreact(rt: Runtime, q: Question) -> None:
    if q.message_ts:
        try:
            rt.slack.reactions_remove(channel=q.channel_id, timestamp=q.message_ts, name=WORKING_REACTION)
        except Exception:
            log.warning("could not remove the working reaction from %s", q.message_ts, exc_info=True)


@dataclass(frozen=True)
class Failure:
    """Why a question couldn't be answered, fit to show in the channel."""

    reason: str
    retry: bool = True
    """Whether asking again may help: not while the worker lacks its model's weights."""


def describe(exc: BaseException) -> Failure:
    """A user-safe reason for a failed answer job, chosen by the exception's type (never a traceback)."""
    import torch  # already loaded with the engine (answering.engine imports training.generate)

    if isinstance(exc, ModelUnavailable):
        # A deployment problem the asker can't fix and a retry won't: say who can, and how
        # (the message names the model, the command and the worker's models directory).
        return Failure(
            "the answer worker doesn't have its model's weights, so asking again won't help until "
            f"whoever runs orgtune provides them. {redact(str(exc))}",
            retry=False,
        )
    if isinstance(exc, WorkHorseKilled):
        return Failure(str(exc))
    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        return Failure("the answer worker ran out of memory")
    if isinstance(exc, JobTimeoutException):
        return Failure("it took longer than its time limit")
    if isinstance(exc, AbandonedJobError):
        return Failure("the worker answering it stopped")
    return Failure(f"an internal error ({type(exc).__name__})")


def failure_text(failure: Failure) -> str:
    """The reply for a question that failed, escaped and within Slack's text limit."""
    if failure.retry:
        text = f":x: Sorry, I couldn't answer that ({failure.reason}). Please ask again in a moment."
    else:
        text = f":x: Sorry, I couldn't answer that: {failure.reason}"
    return truncate(escape(text))


def fail_question(rt: Runtime, question_id: int, failure: Failure | str) -> None:
    """Mark a pending question failed and tell the person once; a plain string is a passing failure."""
    if isinstance(failure, str):
        failure = Failure(failure)
    with rt.db.session() as session:
        q = session.get(Question, question_id)
        if q is None or q.status not in QuestionStatus.PENDING:
            return
        q.status = QuestionStatus.FAILED
        if q.source in ("mention", "slash"):
            rt.slack.chat_postMessage(channel=q.channel_id, thread_ts=q.thread_ts, text=failure_text(failure))
            _unreact(rt, q)
