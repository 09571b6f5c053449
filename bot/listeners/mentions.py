"""``@orgtune ...`` in channels and threads: commands that also work where slash commands can't."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.errors import reported
from bot.listeners import questions, training
from bot.services import BotServices
from bot.slack_text import plain_text, strip_bot_mention
from storage.channels import ChannelKey
from storage.events import claim_event


def register(app: App, services: BotServices) -> None:
    @app.event("app_mention")
    def on_mention(body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if event.get("user") == context.bot_user_id or event.get("bot_id"):
            return
        channel = event["channel"]
        thread_ts = event.get("thread_ts") or event["ts"]
        key = ChannelKey(str(body.get("team_id") or context.team_id), channel)
        text = plain_text(strip_bot_mention(event.get("text") or "", context.bot_user_id), user_names(client))

        def tell(reply: str) -> None:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=reply)

        with reported(tell, "handling your message"):
            with services.db.session() as session:
                if body.get("event_id") and not claim_event(session, body["event_id"]):
                    return  # a Slack retry of a mention we already handled
            dispatch(services, client, key, text, event.get("user") or "", thread_ts, tell, event["ts"])


def user_names(client: WebClient) -> Callable[[str], str | None]:
    """Resolve ``<@U…>`` in a question to the person's name (users:read); None if Slack won't say."""

    @functools.lru_cache(maxsize=64)
    def name(user_id: str) -> str | None:
        try:
            user = client.users_info(user=user_id)["user"]
        except SlackApiError:
            return None
        profile = user.get("profile") or {}
        return str(profile.get("display_name") or user.get("real_name") or user.get("name") or "") or None

    return name


def dispatch(
    services: BotServices,
    client: WebClient,
    key: ChannelKey,
    text: str,
    user: str,
    thread_ts: str,
    tell: Any,
    message_ts: str | None = None,
) -> None:
    word, _, rest = text.partition(" ")
    if word.lower() == "train":
        training.launch(services, client, key, rest, user, thread_ts, tell)
    elif word.lower() in ("help", ""):
        tell(messages.help_text())
    else:
        questions.ask(
            services, key, text, user, source="mention", message_ts=message_ts, thread_ts=thread_ts, client=client
        )
