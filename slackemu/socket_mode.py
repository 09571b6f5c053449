"""Slack's side of Socket Mode: WebSocket links opened with tickets, envelopes, acks.

As Slack documents it (docs.slack.dev/apis/events-api/using-socket-mode): the app
calls ``apps.connections.open`` with its app-level token and gets a one-time
``wss://…/link/?ticket=…`` URL; on connecting it receives a ``hello``; every
request then arrives as an envelope (``events_api``, ``slash_commands``,
``interactive``) that the app acknowledges by sending back its ``envelope_id``
(for commands and interactions, optionally with a response ``payload``). Slack
refreshes links: it sends ``{"type": "disconnect", "reason": "refresh_requested"}``
and the app opens a new one. No request is signed; the link itself is the
authentication.

Here the URL is ``ws://`` on loopback, and :meth:`SocketModeServer.deliver` blocks
until the ack arrives so the driver can record how long the app took.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlparse

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

APP_ID = "A0ORGTUNE"
ACK_DEADLINE_S = 3.0
"""Slack's deadline for an ack, over HTTP and Socket Mode alike; a later one counts as a failure."""

ENVELOPE_TYPES = ("events_api", "slash_commands", "interactive")
OLD_LINK_GRACE_S = 2.0
"""After a refresh, how long the old link may outlive the new one before Slack closes it."""


@dataclass
class Delivery:
    """One envelope sent to the app and its ack (``acked`` False: none came within the wait)."""

    envelope_id: str
    type: str
    acked: bool
    seconds: float
    payload: dict[str, Any] | None = None

    @property
    def slow(self) -> bool:
        return not self.acked or self.seconds >= ACK_DEADLINE_S


@dataclass
class _Link:
    connection: ServerConnection
    draining: bool = False  # sent a disconnect: no new envelopes go here


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    acked_at: float = 0.0
    payload: dict[str, Any] | None = None


class SocketModeServer:
    """A WebSocket server on a free loopback port, in a background thread.

    Only URLs issued by :meth:`open_url` (one connection each) are accepted.
    """

    def __init__(self, host: str = "127.0.0.1", app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self.connections_opened = 0
        self.deliveries: list[Delivery] = []
        self._tickets: set[str] = set()
        self._links: list[_Link] = []
        self._pending: dict[str, _Pending] = {}
        self._changed = threading.Condition()
        # Keepalive pings come from the client (slack_sdk pings every few seconds); compression is
        # something Slack's links don't negotiate. A short close timeout keeps forced disconnects quick.
        self._server: Server = serve(
            self._serve_link,
            host,
            0,
            process_request=self._check_ticket,
            compression=None,
            ping_interval=None,
            close_timeout=2,
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/"

    @property
    def open_connections(self) -> int:
        with self._changed:
            return len(self._links)

    def start(self) -> SocketModeServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-socket-mode", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()  # closes open links and waits for their handlers
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- apps.connections.open ------------------------------------------------------
    def open_url(self) -> str:
        """A fresh single-use link URL, as ``apps.connections.open`` answers it."""
        ticket = secrets.token_hex(16)
        with self._changed:
            self._tickets.add(ticket)
        return f"{self.url}?ticket={ticket}&app_id={self.app_id}"

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        parsed = urlparse(request.path)
        ticket = parse_qs(parsed.query).get("ticket", [""])[0]
        with self._changed:
            valid = parsed.path == "/link/" and ticket in self._tickets
            self._tickets.discard(ticket)  # a ticket opens one link, however the attempt ends
        return None if valid else connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")

    # --- one link ------------------------------------------------------------------
    def _serve_link(self, connection: ServerConnection) -> None:
        link = _Link(connection)
        with self._changed:
            count = len(self._links) + 1
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": "applink-emulated", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        try:
            connection.send(json.dumps(hello))
            # Registered only after the hello, so that no envelope can overtake it on this link.
            with self._changed:
                self._links.append(link)
                self.connections_opened += 1
                self._changed.notify_all()
            for raw in connection:
                self._on_message(raw)
        except ConnectionClosed:
            pass  # the app went away (or replaced this link); its pending envelopes time out
        finally:
            with self._changed:
                if link in self._links:
                    self._links.remove(link)
                self._changed.notify_all()

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        with self._changed:
            pending = self._pending.get(str(message.get("envelope_id")))
            if pending is None or pending.done.is_set():
                return  # an ack for nothing we sent (or a second one): Slack ignores it too
            pending.acked_at = time.monotonic()
            payload = message.get("payload")
            pending.payload = payload if isinstance(payload, dict) else None
            pending.done.set()

    # --- what Slack sends --------------------------------------------------------------
    def deliver(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 10.0,
    ) -> Delivery:
        """Send one envelope on the newest link and wait (up to ``timeout``) for its ack.

        With no link open (the app is reconnecting), it waits for one; none within
        ``timeout`` raises ConnectionError, as the request could not be delivered.
        """
        if envelope_type not in ENVELOPE_TYPES:
            raise ValueError(f"unknown envelope type {envelope_type!r}")
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        pending = _Pending()
        with self._changed:
            self._pending[envelope_id] = pending
        deadline = time.monotonic() + timeout
        try:
            start = self._send_on_a_link(json.dumps(envelope), deadline)
            acked = pending.done.wait(max(0.0, deadline - time.monotonic()))
            seconds = (pending.acked_at if acked else time.monotonic()) - start
        finally:
            with self._changed:
                self._pending.pop(envelope_id, None)
        delivery = Delivery(envelope_id, envelope_type, acked, seconds, pending.payload)
        with self._changed:
            self.deliveries.append(delivery)
        return delivery

    def _send_on_a_link(self, text: str, deadline: float) -> float:
        """Send on the newest open link (another one if it closes under us); returns when it was sent."""
        while True:
            with self._changed:
                self._changed.wait_for(self._usable_link, max(0.0, deadline - time.monotonic()))
                link = self._usable_link()
            if link is None:
                raise ConnectionError("no Socket Mode connection is open: the app never connected or didn't reconnect")
            start = time.monotonic()
            try:
                link.connection.send(text)
                return start
            except ConnectionClosed:
                with self._changed:
                    link.draining = True  # its handler removes it; don't pick it again meanwhile

    def _usable_link(self) -> _Link | None:
        return next((link for link in reversed(self._links) if not link.draining), None)

    def force_disconnect(self, reason: str = "refresh_requested", timeout: float = 10.0) -> bool:
        """Ask the app to move to a new link, as Slack does when it refreshes one.

        Sends ``disconnect`` on every open link, waits (up to ``timeout``) for the app to
        open a new one and drop the old ones, then closes what is left of them. Returns
        whether the app reconnected.
        """
        with self._changed:
            old = [link for link in self._links if not link.draining]
            for link in old:
                link.draining = True
            opened = self.connections_opened
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-emulated"}})
        for link in old:
            with contextlib.suppress(ConnectionClosed):  # already gone: nothing to ask
                link.connection.send(message)
        with self._changed:
            reconnected = self._changed.wait_for(lambda: self.connections_opened > opened, timeout)
            if reconnected:  # a well-behaved app drops the old link itself once the new one is up
                self._changed.wait_for(lambda: not any(link in self._links for link in old), OLD_LINK_GRACE_S)
        for link in old:
            link.connection.close()
        return bool(reconnected)
