"""The answer job: runs in a non-forking worker that keeps the model warm between questions."""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis
from rq import Callback, Queue
from rq.job import Job

from answering.embed import process_embedder
from answering.engine import process_engine
from answering.evidence import Similarity
from answering.pipeline import Answer, answer, load_context
from bot.answer_messages import answer_blocks
from jobs.runtime import Runtime, get_runtime
from orgtune import defaults
from storage.channels import ChannelKey
from storage.models import Question

log = logging.getLogger(__name__)

WORKING_REACTION = "hourglass_flowing_sand"


def enqueue_answer(connection: Redis, question_id: int) -> Job:
    return Queue(defaults.QUEUE_ANSWER, connection=connection).enqueue(
        "jobs.answer.answer_question",
        question_id,
        job_id=f"answer-question-{question_id}",
        job_timeout=defaults.ANSWER_JOB_TIMEOUT_S,
        result_ttl=defaults.JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        on_failure=Callback("jobs.failures.on_job_failure"),
        description=f"answer question {question_id}",
    )


def answer_for(rt: Runtime, key: ChannelKey, question: str) -> Answer:
    """Answer in-process (the CLI, eval and the job share this)."""
    with rt.db.session() as session:
        context = load_context(session, key, question, rt.artifacts.root, _similarity())
    return answer(question, context, process_engine(rt.config), rt.config.answer_model)


def _similarity() -> Similarity | None:
    embedder = process_embedder()
    return embedder.similarities if embedder else None


def answer_question(question_id: int) -> str:
    """RQ entry point: answer a stored question once and post it where it was asked."""
    rt = get_runtime()
    with rt.db.session() as session:
        q = session.get(Question, question_id)
        if q is None or q.status != "queued":
            return "skipped"
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
        # failure hook still finds the question queued, fails it and tells the person.
        q.status = "answered"
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


def fail_question(rt: Runtime, question_id: int, what: str) -> None:
    with rt.db.session() as session:
        q = session.get(Question, question_id)
        if q is None or q.status != "queued":
            return
        q.status = "failed"
        if q.source in ("mention", "slash"):
            rt.slack.chat_postMessage(
                channel=q.channel_id,
                thread_ts=q.thread_ts,
                text=f":x: Sorry, I couldn't answer that ({what}). Please ask again in a moment.",
            )
            _unreact(rt, q)
