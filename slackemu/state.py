"""The emulated workspace: users, messages, files, reactions, and the transcript of calls."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] | None = None
    ephemeral_to: str | None = None
    files: list[str] = field(default_factory=list)
    reactions: dict[str, set[str]] = field(default_factory=dict)
    updates: int = 0
    update_times: list[float] = field(default_factory=list)
    via: str = "chat.postMessage"

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class StoredFile:
    id: str
    name: str
    title: str
    mimetype: str
    filetype: str
    content: bytes
    user: str
    created: int
    shares: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    size_override: int | None = None

    @property
    def size(self) -> int:
        return self.size_override if self.size_override is not None else len(self.content)


@dataclass
class ApiCall:
    """One Web API call the bot made, in order, with its arguments and the emulator's answer."""

    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    at: float


class Workspace:
    """Thread-safe state shared by the HTTP handler, the driver and assertions."""

    def __init__(self, team_id: str = "T0ORGTUNE", team_name: str = "orgtune-demo") -> None:
        self.team_id, self.team_name = team_id, team_name
        self.bot_user_id, self.bot_id = "U0BOT", "B0BOT"
        self.users: dict[str, str] = {self.bot_user_id: "orgtune"}
        self.channels: dict[str, str] = {}
        self.private: set[str] = set()
        self.members: dict[str, set[str]] = {}  # channel -> user ids (the bot included when invited)
        self.messages: list[Message] = []
        self.files: dict[str, StoredFile] = {}
        self.calls: list[ApiCall] = []
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._ids = itertools.count(1)
        self._last_ts = 0.0

    # --- ids -------------------------------------------------------------------
    def new_ts(self) -> str:
        with self.lock:
            self._last_ts = max(time.time(), self._last_ts + 0.000001)
            return f"{self._last_ts:.6f}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):07d}"

    # --- recording -----------------------------------------------------------------
    def record(self, method: str, args: dict[str, Any], ok: bool, error: str | None) -> None:
        with self.changed:
            self.calls.append(ApiCall(method, args, ok, error, time.time()))
            self.changed.notify_all()

    def add_message(self, message: Message) -> Message:
        with self.changed:
            self.messages.append(message)
            self.changed.notify_all()
        return message

    def find_message(self, channel: str, ts: str) -> Message | None:
        with self.lock:
            return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def add_user(self, user_id: str, name: str) -> None:
        self.users[user_id] = name

    def add_channel(self, channel_id: str, name: str, *, private: bool = False, bot_member: bool = True) -> None:
        """A channel; the bot is in it unless ``bot_member`` is False (then Slack refuses its posts)."""
        self.channels[channel_id] = name
        (self.private.add if private else self.private.discard)(channel_id)
        self.members.setdefault(channel_id, set())
        if bot_member:
            self.members[channel_id].add(self.bot_user_id)

    def invite(self, channel_id: str, user_id: str) -> None:
        with self.changed:
            self.members.setdefault(channel_id, set()).add(user_id)
            self.changed.notify_all()

    def bot_is_member(self, channel_id: str) -> bool:
        return self.bot_user_id in self.members.get(channel_id, set())

    def channel_error(self, channel_id: str) -> str | None:
        """What Slack answers the bot for a conversation it can't post in, else None.

        A public channel the bot isn't in: ``not_in_channel``; a private one (or
        an unknown id) is invisible to it: ``channel_not_found``.
        """
        if channel_id not in self.channels:
            return "channel_not_found"
        if self.bot_is_member(channel_id):
            return None
        return "channel_not_found" if channel_id in self.private else "not_in_channel"

    # --- queries -------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Block until ``predicate()`` is truthy (re-checked on every change); return its value."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout}s; transcript:\n{self.render()}")
                self.changed.wait(min(remaining, 0.5))

    def bot_messages(self, channel: str | None = None) -> list[Message]:
        with self.lock:
            return [
                m for m in self.messages if m.user == self.bot_user_id and (channel is None or m.channel == channel)
            ]

    def replies(self, channel: str, thread_ts: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m.channel == channel and m.thread_ts == thread_ts and m.ts != thread_ts]

    def calls_to(self, method: str) -> list[ApiCall]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    # --- reading like a person -----------------------------------------------------
    def render(self, channel: str | None = None) -> str:
        """The conversation as a person would read it: channels, threads indented, files named."""
        with self.lock:
            lines: list[str] = []
            chans = [channel] if channel else list(dict.fromkeys(m.channel for m in self.messages))
            for chan in chans:
                lines.append(f"#{self.channels.get(chan, chan)}")
                top = [m for m in self.messages if m.channel == chan and not m.is_reply]
                for msg in top:
                    lines += self._render_message(msg, "  ")
                    for reply in self.replies(chan, msg.ts):
                        lines += self._render_message(reply, "      ↳ ")
            return "\n".join(lines)

    def _render_message(self, msg: Message, indent: str) -> list[str]:
        who = self.users.get(msg.user, msg.user)
        extras = []
        if msg.files:
            extras.append("shares " + ", ".join(self.files[f].name for f in msg.files if f in self.files))
        if msg.ephemeral_to:
            extras.append(f"only visible to {self.users.get(msg.ephemeral_to, msg.ephemeral_to)}")
        if msg.updates:
            extras.append(f"edited {msg.updates}x")
        for name, users in msg.reactions.items():
            if users:
                extras.append(f":{name}:")
        head = f"{indent}{who}" + (f" ({'; '.join(extras)})" if extras else "") + ":"
        body = (msg.text or "").splitlines() or [""]
        pad = " " * len(indent) + "  "
        return [f"{head} {body[0]}"] + [pad + line for line in body[1:]]
