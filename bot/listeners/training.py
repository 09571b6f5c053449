"""/train, ``@orgtune train`` in threads, the Cancel button and ``/orgtune cancel``.

Slash commands can't be used in threads, so a mention carries the same command
there. Everything acks first; planning (which may import torch once) runs after.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import messages, run_messages
from bot.errors import reported
from bot.membership import bot_is_member
from bot.services import BotServices
from bot.slack_text import plain_text
from jobs.launch import Busy, NothingToLearn, start_run
from storage import runs
from storage.channels import ChannelKey
from storage.models import RunStatus, TrainingRun
from training.models import DEFAULT_MODEL, UnknownModel, budgeted, get_model

TRAIN_MENTION = re.compile(r"^\s*train\b\s*(\S*)", re.IGNORECASE)


def register(app: App, services: BotServices) -> None:
    @app.command("/train")
    def train_command(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        key = ChannelKey(command["team_id"], command["channel_id"])
        tell = _ephemeral(respond)
        with reported(tell, "starting training"):
            if not bot_is_member(client, key.channel_id):
                tell(messages.not_in_channel("/train"))
                return
            launch(services, client, key, plain_text(command.get("text") or ""), command["user_id"], None, tell)

    @app.action(run_messages.CANCEL_ACTION)
    def cancel_button(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        tell = _ephemeral(respond)
        with reported(tell, "cancelling the run"):
            run_id = int(body["actions"][0]["value"])
            key = ChannelKey(body["team"]["id"], body["channel"]["id"])
            tell(cancel(services, client, key, body["user"]["id"], run_id))


def launch(
    services: BotServices, client: WebClient, key: ChannelKey, text: str, user: str, thread_ts: str | None, tell: Any
) -> None:
    name = text.strip().split()[0] if text.strip() else DEFAULT_MODEL
    try:
        spec = budgeted(get_model(name), services.config.facts_per_document)
    except UnknownModel as exc:
        tell(str(exc))
        return

    def announce(run: TrainingRun) -> str | None:
        message, blocks = run_messages.run_message(run)
        return str(
            client.chat_postMessage(channel=key.channel_id, thread_ts=thread_ts, text=message, blocks=blocks)["ts"]
        )

    try:
        outcome = start_run(
            services.db, services.redis, key, spec, requested_by=user, thread_ts=thread_ts, announce=announce
        )
    except NothingToLearn:
        tell("This channel has no documents to learn from yet. Share some files here first (`/orgtune help`).")
        return
    if isinstance(outcome, Busy):
        tell(run_messages.already_running(outcome.run))


def cancel(services: BotServices, client: WebClient, key: ChannelKey, user: str, run_id: int | None = None) -> str:
    """Flag the channel's active run (or ``run_id``) for cancellation; returns what to tell the user."""
    with services.db.session() as session:
        run = runs.get(session, run_id) if run_id else runs.active_run(session, key)
        if run is None or (run.team_id, run.channel_id) != (key.team_id, key.channel_id):
            return "There's no training run to cancel in this channel."
        if not runs.request_cancel(session, run, user):
            return f"Run #{run.id} already ended ({run.status})."
        if run.status == RunStatus.QUEUED and _dequeue(services, run):
            runs.set_status(run, RunStatus.CANCELLED)
            text, blocks = run_messages.run_message(run)
            if run.progress_ts:
                client.chat_update(channel=run.channel_id, ts=run.progress_ts, text=text, blocks=blocks)
            return f"Cancelled run #{run.id} (`{run.model}`) before it started."
        return f"Cancelling run #{run.id} (`{run.model}`): it stops within one training step and keeps nothing."


def _dequeue(services: BotServices, run: TrainingRun) -> bool:
    """Take a not-yet-started job off the queue; False if a worker already has it."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(run.job_id or "", connection=services.redis)
    except NoSuchJobError:
        return True
    if job.get_status() != JobStatus.QUEUED:
        return False
    job.cancel()
    return True


def _ephemeral(respond: Respond) -> Any:
    return lambda text: respond(text=text, response_type="ephemeral")
