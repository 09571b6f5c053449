"""Questions: ``@orgtune <question>`` (answered in the thread), ``/ask`` (answered in the channel),
and the Helpful / Not helpful buttons under each answer."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import messages
from bot.answer_messages import HELPFUL, NOT_HELPFUL
from bot.errors import reported
from bot.membership import bot_is_member
from bot.services import BotServices
from bot.slack_text import plain_text
from jobs.answer import WORKING_REACTION, enqueue_answer
from orgtune import defaults
from storage.channels import ChannelKey
from storage.documents import no_nul
from storage.models import Question, utcnow

log = logging.getLogger(__name__)


def register(app: App, services: BotServices) -> None:
    @app.command("/ask")
    def ask_command(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        text = plain_text(command.get("text") or "")
        tell = lambda reply: respond(text=reply, response_type="ephemeral")  # noqa: E731
        if not text:
            tell("Ask a question about this channel's documents, e.g. `/ask how many vacation days do we get?`")
            return
        key = ChannelKey(command["team_id"], command["channel_id"])
        with reported(tell, "queueing your question"):
            if not bot_is_member(client, key.channel_id):
                tell(messages.not_in_channel("/ask"))
                return
            ask(services, key, text, command["user_id"], source="slash")

    @app.action(HELPFUL)
    def helpful(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        _feedback(services, body, "helpful", respond)

    @app.action(NOT_HELPFUL)
    def not_helpful(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        _feedback(services, body, "not_helpful", respond)


def ask(
    services: BotServices,
    key: ChannelKey,
    text: str,
    user: str,
    *,
    source: str,
    message_ts: str | None = None,
    thread_ts: str | None = None,
    client: WebClient | None = None,
) -> int:
    """Store the question and queue the answer job; react on the asking message meanwhile."""
    with services.db.session() as session:
        q = Question(
            team_id=key.team_id,
            channel_id=key.channel_id,
            user=user,
            source=source,
            message_ts=message_ts,
            thread_ts=thread_ts,
            question=no_nul(text)[: defaults.MAX_QUESTION_CHARS],
            status="queued",
        )
        session.add(q)
        session.flush()
        question_id = q.id
    if client is not None and message_ts:
        # Shown before the job can finish (the job takes it back); cosmetic, so never fatal.
        try:
            client.reactions_add(channel=key.channel_id, timestamp=message_ts, name=WORKING_REACTION)
        except Exception:
            log.warning("could not add the working reaction to %s", message_ts, exc_info=True)
    try:
        enqueue_answer(services.redis, question_id)
    except Exception:
        with services.db.session() as session:
            row = session.get(Question, question_id)
            if row is not None:
                row.status = "failed"
        raise
    return question_id


def _feedback(services: BotServices, body: dict[str, Any], value: str, respond: Respond) -> None:
    tell = lambda reply: respond(text=reply, response_type="ephemeral", replace_original=False)  # noqa: E731
    with reported(tell, "saving your feedback"):
        question_id = int(body["actions"][0]["value"])
        with services.db.session() as session:
            q = session.get(Question, question_id)
            if q is None or q.channel_id != body["channel"]["id"]:
                tell("That answer is no longer on record.")
                return
            q.feedback, q.feedback_by, q.feedback_at = value, body["user"]["id"], utcnow()
        tell(
            "Thanks, noted."
            if value == "helpful"
            else "Thanks, noted. Forgetting or adding documents and retraining (`/train`) is how answers improve."
        )
