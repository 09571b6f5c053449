"""The app's manifest, read the way Slack reads it: what it declares is all the app gets.

Slack delivers only the slash commands, events and interactions an app's
configuration declares, and answers ``missing_scope`` to Web API calls whose
scope the installation wasn't granted. The emulator loads ``slack-manifest.yml``
(the same file a deployer pastes into api.slack.com) and refuses the rest, so a
listener the manifest forgot fails in a test, not in a workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MANIFEST = Path(__file__).resolve().parent.parent / "slack-manifest.yml"

# Web API method -> scopes that allow it (any one suffices). Taken from each method's
# page in Slack's reference ("Required scopes"); auth.test needs none.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "files.info": ("files:read",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "users.info": ("users:read",),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
}

# Event type -> the bot scope Slack requires before it sends it.
EVENT_SCOPES: dict[str, str] = {
    "app_mention": "app_mentions:read",
    "file_shared": "files:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
}


class ManifestError(ValueError):
    """The manifest is malformed or inconsistent (e.g. an event without its scope)."""


@dataclass(frozen=True)
class Manifest:
    commands: frozenset[str]
    bot_events: frozenset[str]
    scopes: frozenset[str]
    interactivity: bool
    socket_mode: bool
    shortcuts: frozenset[str] = frozenset()
    source: str = ""

    @classmethod
    def load(cls, path: Path | str = DEFAULT_MANIFEST) -> Manifest:
        data = yaml.safe_load(Path(path).read_text())
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "") -> Manifest:
        features = data.get("features") or {}
        settings = data.get("settings") or {}
        manifest = cls(
            commands=frozenset(c["command"] for c in features.get("slash_commands") or []),
            bot_events=frozenset((settings.get("event_subscriptions") or {}).get("bot_events") or []),
            scopes=frozenset(((data.get("oauth_config") or {}).get("scopes") or {}).get("bot") or []),
            interactivity=bool((settings.get("interactivity") or {}).get("is_enabled")),
            socket_mode=bool(settings.get("socket_mode_enabled")),
            shortcuts=frozenset(s["callback_id"] for s in features.get("shortcuts") or []),
            source=source,
        )
        manifest.check()
        return manifest

    def check(self) -> None:
        """What Slack's manifest validation refuses: events or commands without their scope."""
        for event in self.bot_events:
            needed = EVENT_SCOPES.get(event)
            if needed is None:
                raise ManifestError(f"{self.source}: unknown bot event {event!r}")
            if needed not in self.scopes:
                raise ManifestError(f"{self.source}: bot event {event!r} needs the {needed!r} scope")
        if self.commands and "commands" not in self.scopes:
            raise ManifestError(f"{self.source}: slash commands need the 'commands' scope")

    # --- what Slack delivers ------------------------------------------------------
    def delivers_command(self, command: str) -> bool:
        return command in self.commands

    def delivers_event(self, event_type: str, channel_type: str = "channel") -> bool:
        """``message`` events are subscribed per conversation type (message.channels, ...)."""
        if event_type == "message":
            return f"message.{_CONVERSATION_EVENTS.get(channel_type, channel_type)}" in self.bot_events
        return event_type in self.bot_events

    def missing_scope(self, method: str) -> tuple[str, ...] | None:
        """The scopes ``method`` needs when none of them was granted, else None."""
        needed = METHOD_SCOPES.get(method)
        if needed is None or not needed:
            return None
        return None if self.scopes.intersection(needed) else needed


_CONVERSATION_EVENTS = {"channel": "channels", "group": "groups", "im": "im", "mpim": "mpim"}
