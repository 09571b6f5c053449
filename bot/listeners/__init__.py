"""Listener modules, each with a ``register(app, services)`` seam."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import commands, files, mentions, questions, training
from bot.services import BotServices


def register(app: App, services: BotServices) -> None:
    files.register(app, services)
    commands.register(app, services)
    training.register(app, services)
    mentions.register(app, services)
    questions.register(app, services)
