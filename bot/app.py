"""Builds the Bolt app and registers listeners; nothing else lives here."""

from __future__ import annotations

import logging
import secrets

from slack_bolt import App

from bot import listeners
from bot.services import BotServices
from jobs.runtime import make_slack_client
from orgtune import defaults
from orgtune.config import Config


def create_app(config: Config, services: BotServices | None = None) -> App:
    """A Bolt app that verifies every HTTP request's signature (never disabled).

    With ``slack_app_token`` set the bot runs over Socket Mode, where Slack signs
    nothing (the link opened with the app-level token is the authentication), so
    no signing secret is needed there.
    """
    config.require("slack_bot_token")
    if not config.slack_app_token:
        config.require("slack_signing_secret")
    services = services or BotServices.from_config(config)
    client = make_slack_client(config, timeout=defaults.SLACK_BOT_TIMEOUT_S)
    # The token travels inside the client (which points at the configured API URL).
    app = App(
        # Bolt skips the signature check only for requests that came over Socket Mode. Without a
        # configured secret, a random one nobody knows makes any HTTP request fail verification
        # (None would make Bolt read SLACK_SIGNING_SECRET itself; "" is a key anyone can sign with).
        signing_secret=config.slack_signing_secret or secrets.token_hex(32),
        client=client,
        logger=logging.getLogger("orgtune.bot"),
    )
    listeners.register(app, services)
    return app
