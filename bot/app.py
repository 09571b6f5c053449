"""Builds the Bolt app and registers listeners; nothing else lives here."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient

from bot import listeners
from bot.services import BotServices
from orgtune.config import Config


def create_app(config: Config, services: BotServices | None = None) -> App:
    """A Bolt app that verifies every request's signature (never disabled)."""
    config.require("slack_bot_token", "slack_signing_secret")
    services = services or BotServices.from_config(config)
    client = WebClient(token=config.slack_bot_token, base_url=config.slack_api_url, timeout=10)
    # The token travels inside the client (which points at the configured API URL).
    app = App(
        signing_secret=config.slack_signing_secret,
        client=client,
        logger=logging.getLogger("orgtune.bot"),
    )
    listeners.register(app, services)
    return app
