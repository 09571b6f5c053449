"""Sends Slack's requests to the bot and records each acknowledgement.

Payloads follow Slack's documented formats: Events API ``event_callback``
envelopes, form-encoded slash commands with a ``response_url`` served by the
emulator, and ``block_actions`` interactions. They travel as correctly signed
HTTP requests (the default), or over Socket Mode as envelopes on the bot's
WebSocket link (``SlackDriver.socket_mode``), where the same payloads arrive
unsigned and commands are a dict of the form's fields.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from slackemu.methods import _filetype, _mimetype, file_json
from slackemu.server import SlackEmulator
from slackemu.state import Message, StoredFile, Workspace


@dataclass
class Ack:
    """The bot's answer to one request, and how long it took.

    Over HTTP: the response's status and body. Over Socket Mode: 200 once acked (0 if no
    ack came) and the ack's ``payload`` as JSON (empty without one).
    """

    kind: str
    status: int
    seconds: float
    body: bytes
    event_id: str | None = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Shared:
    file_id: str
    message: Message
    acks: list[Ack] = field(default_factory=list)


class NotDelivered(RuntimeError):
    """Real Slack would never send this to the app (undeclared command or event, no membership)."""


def as_slack_sends(ws: Workspace, text: str) -> str:
    """Text as Slack delivers what a person typed: ``&``, ``<``, ``>`` escaped, ``@name`` as ``<@U…>``."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    by_name = {name: uid for uid, name in ws.users.items()}
    return re.sub(r"(?<![\w@])@([a-z0-9._-]+)", lambda m: f"<@{by_name[m[1]]}>" if m[1] in by_name else m[0], text)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


HTTP, SOCKET_MODE = "http", "socket_mode"


class SlackDriver:
    """Plays people and delivers what Slack sends the bot: over ``transport`` "http" (signed POSTs
    to ``bot_url``) or "socket_mode" (envelopes on the link the bot opened with the app token)."""

    def __init__(
        self, emulator: SlackEmulator, bot_url: str = "", signing_secret: str = "", *, transport: str = HTTP
    ) -> None:
        if transport not in (HTTP, SOCKET_MODE):
            raise ValueError(f"transport is {HTTP!r} or {SOCKET_MODE!r}, not {transport!r}")
        if transport == HTTP and not bot_url:
            raise ValueError("the HTTP transport needs the bot's URL")
        self.transport = transport
        self.emulator, self.bot_url, self.signing_secret = emulator, bot_url, signing_secret
        self.ws = emulator.workspace
        self.acks: list[Ack] = []

    # --- transport -----------------------------------------------------------------
    def post(
        self,
        kind: str,
        body: bytes,
        content_type: str,
        *,
        secret: str | None = None,
        timestamp: float | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> Ack:
        ts = str(int(timestamp if timestamp is not None else time.time()))
        hdrs = {"Content-Type": content_type, **(headers or {})}
        if signed:
            hdrs["X-Slack-Request-Timestamp"] = ts
            hdrs["X-Slack-Signature"] = sign(secret or self.signing_secret, ts, body)
        request = urllib.request.Request(self.bot_url, data=body, headers=hdrs, method="POST")
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        ack = Ack(kind, status, time.monotonic() - start, payload)
        self.acks.append(ack)
        return ack

    @classmethod
    def socket_mode(cls, emulator: SlackEmulator) -> SlackDriver:
        """A driver for a bot connected over Socket Mode (with ``emulator.app_token``): no URL, no signing."""
        return cls(emulator, transport=SOCKET_MODE)

    def _envelope(
        self, kind: str, envelope_type: str, payload: dict[str, Any], retry_attempt: int = 0, **post_kwargs: Any
    ) -> Ack:
        """Deliver ``payload`` in a Socket Mode envelope and wait for the bot's ack."""
        if post_kwargs:
            raise TypeError(f"Socket Mode requests have no signature or headers: {sorted(post_kwargs)} are HTTP-only")
        if not self.emulator.manifest.socket_mode:
            raise NotDelivered(f"socket_mode_enabled is off in {self.emulator.manifest.source}: Slack would POST this")
        delivery = self.emulator.socket_mode.deliver(
            envelope_type,
            payload,
            # A slash command may answer in its ack; block_actions and events only acknowledge.
            accepts_response_payload=envelope_type == "slash_commands",
            retry_attempt=retry_attempt,
            retry_reason="timeout" if retry_attempt else "",
        )
        body = json.dumps(delivery.payload).encode() if delivery.payload is not None else b""
        ack = Ack(kind, 200 if delivery.acked else 0, delivery.seconds, body)
        self.acks.append(ack)
        return ack

    def send_event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int = 0, **post_kwargs: Any
    ) -> Ack:
        self._check_delivered(event)
        event_id = event_id or self.ws.new_id("Ev")
        body = {
            "token": "legacy-verification-token",
            "team_id": self.ws.team_id,
            "api_app_id": "A0ORGTUNE",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.ws.team_id,
                    "user_id": self.ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        if self.transport == SOCKET_MODE:  # the same event_callback body, as the envelope's payload
            ack = self._envelope("event:" + event["type"], "events_api", body, retry_num, **post_kwargs)
        else:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
            ack = self.post(
                "event:" + event["type"], json.dumps(body).encode(), "application/json", headers=headers, **post_kwargs
            )
        ack.event_id = event_id
        return ack

    def _check_delivered(self, event: dict[str, Any]) -> None:
        """Slack sends an event only if the manifest subscribes to it, from conversations the bot is in."""
        channel = event.get("channel") or event.get("channel_id") or ""
        channel_type = event.get("channel_type") or ("group" if channel in self.ws.private else "channel")
        manifest = self.emulator.manifest
        if not manifest.delivers_event(event["type"], channel_type):
            raise NotDelivered(f"{manifest.source} doesn't subscribe to {event['type']} events ({channel_type})")
        if channel and not self.ws.bot_is_member(channel):
            raise NotDelivered(f"the bot isn't in {channel}: Slack sends it no {event['type']} events from there")

    # --- what people do --------------------------------------------------------------
    def say(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> Message:
        """A person posts a message (recorded in the workspace as Slack stores it; no event is sent)."""
        return self.ws.add_message(
            Message(channel, self.ws.new_ts(), user, as_slack_sends(self.ws, text), thread_ts, via="user")
        )

    def share_file(
        self,
        channel: str,
        user: str,
        name: str,
        content: bytes,
        *,
        thread_ts: str | None = None,
        text: str = "",
        deliver: tuple[str, ...] = ("message", "file_shared"),
        size: int | None = None,
    ) -> Shared:
        """A person uploads a file into a channel or thread; Slack sends the chosen events.

        ``size`` overrides what Slack reports as the size (to test metadata checks).
        """
        ws = self.ws
        fid = ws.new_id("F")
        stored = StoredFile(
            fid, name, name, _mimetype(name), _filetype(name), content, user, int(time.time()), size_override=size
        )
        ws.files[fid] = stored
        msg = ws.add_message(
            Message(channel, ws.new_ts(), user, as_slack_sends(ws, text), thread_ts, files=[fid], via="user")
        )
        share: dict[str, Any] = {"ts": msg.ts, "channel_name": ws.channels.get(channel, channel)}
        if thread_ts:
            share["thread_ts"] = thread_ts
        stored.shares.setdefault(channel, []).append(share)
        shared = Shared(fid, msg)
        for kind in deliver:
            shared.acks.append(self.deliver(kind, shared, channel))
        return shared

    def reshare(self, shared: Shared, user: str, text: str = "", thread_ts: str | None = None) -> Shared:
        """A person shares an already uploaded file again (same file id, a new message and events)."""
        ws, channel = self.ws, shared.message.channel
        stored = ws.files[shared.file_id]
        msg = ws.add_message(
            Message(channel, ws.new_ts(), user, as_slack_sends(ws, text), thread_ts, files=[stored.id], via="user")
        )
        share: dict[str, Any] = {"ts": msg.ts, "channel_name": ws.channels.get(channel, channel)}
        if thread_ts:
            share["thread_ts"] = thread_ts
        stored.shares.setdefault(channel, []).append(share)
        again = Shared(stored.id, msg)
        for kind in ("message", "file_shared"):
            again.acks.append(self.deliver(kind, again, channel))
        return again

    def retry(self, shared: Shared, index: int = 0) -> Ack:
        """Slack re-delivers one of a shared file's events, with the same event id."""
        first = shared.acks[index]
        kind = "message" if first.kind == "event:message" else "file_shared"
        return self.deliver(kind, shared, shared.message.channel, event_id=first.event_id, retry_num=1)

    def deliver(self, kind: str, shared: Shared, channel: str, **kwargs: Any) -> Ack:
        """(Re)send the event of ``kind`` ("message" or "file_shared") for a shared file."""
        msg, stored = shared.message, self.ws.files[shared.file_id]
        if kind == "message":
            event: dict[str, Any] = {
                "type": "message",
                "subtype": "file_share",
                "text": msg.text,
                "files": [file_json(self.emulator, stored)],
                "upload": False,
                "user": msg.user,
                "display_as_bot": False,
                "ts": msg.ts,
                "channel": channel,
                "event_ts": msg.ts,
                "channel_type": "channel",
            }
            if msg.thread_ts:
                event["thread_ts"] = msg.thread_ts
                event["parent_user_id"] = msg.user
        else:
            event = {
                "type": "file_shared",
                "channel_id": channel,
                "file_id": stored.id,
                "user_id": msg.user,
                "file": {"id": stored.id},
                "event_ts": msg.ts,
            }
        return self.send_event(event, **kwargs)

    def mention(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> tuple[Message, Ack]:
        msg = self.say(channel, user, f"@{self.ws.users[self.ws.bot_user_id]} {text}", thread_ts)
        event = {
            "type": "app_mention",
            "user": user,
            "text": msg.text,
            "ts": msg.ts,
            "channel": channel,
            "event_ts": msg.ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return msg, self.send_event(event)

    def slash(self, command: str, text: str, channel: str, user: str, **post_kwargs: Any) -> Ack:
        """A person runs a slash command: delivered only if the manifest declares it (Slack says
        "/x is not a valid command" otherwise), with the text escaped as Slack escapes it."""
        if not self.emulator.manifest.delivers_command(command):
            raise NotDelivered(f"{command} is not a valid command: {self.emulator.manifest.source} doesn't declare it")
        self.say(channel, user, f"{command} {text}".strip())
        text = as_slack_sends(self.ws, text)
        form = {
            "token": "legacy-verification-token",
            "team_id": self.ws.team_id,
            "team_domain": self.ws.team_name,
            "channel_id": channel,
            "channel_name": self.ws.channels.get(channel, channel),
            "user_id": user,
            "user_name": self.ws.users.get(user, user),
            "command": command,
            "text": text,
            "api_app_id": "A0ORGTUNE",
            "is_enterprise_install": "false",
            "response_url": self.emulator.new_response_url(channel, user),
            "trigger_id": f"{int(time.time())}.{self.ws.new_id('')}.trigger",
        }
        if self.transport == SOCKET_MODE:  # the form's fields as a dict
            return self._envelope("command:" + command, "slash_commands", form, **post_kwargs)
        return self.post(
            "command:" + command, urlencode(form).encode(), "application/x-www-form-urlencoded", **post_kwargs
        )

    def click(self, message: Message, action_id: str, user: str, value: str = "") -> Ack:
        """A person clicks a button in one of the bot's messages (a block_actions interaction)."""
        if not self.emulator.manifest.interactivity:
            raise NotDelivered(f"interactivity is off in {self.emulator.manifest.source}: clicks go nowhere")
        block_id = next(
            (
                b.get("block_id", "")
                for b in message.blocks or []
                for e in b.get("elements", [])
                if e.get("action_id") == action_id
            ),
            "",
        )
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": self.ws.users.get(user, user), "team_id": self.ws.team_id},
            "api_app_id": "A0ORGTUNE",
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"{int(time.time())}.trigger",
            "team": {"id": self.ws.team_id, "domain": self.ws.team_name},
            "channel": {"id": message.channel, "name": self.ws.channels.get(message.channel, message.channel)},
            "message": {
                "type": "message",
                "user": message.user,
                "ts": message.ts,
                "text": message.text,
                "blocks": message.blocks or [],
            },
            "response_url": self.emulator.new_response_url(message.channel, user),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "type": "button",
                    "action_ts": str(time.time()),
                }
            ],
        }
        if self.transport == SOCKET_MODE:  # the interaction payload itself, not form-encoded
            return self._envelope("action:" + action_id, "interactive", payload)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post("action:" + action_id, body, "application/x-www-form-urlencoded")
