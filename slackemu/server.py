"""The Slack Web API emulator: an HTTP server on a free port, in a background thread.

It implements the methods orgtune calls with Slack's documented request and
response shapes, requires the bot token on every call and on file downloads,
serves ``response_url`` endpoints, and records every call in order. File downloads
redirect like real Slack's, on to a second (presigned) host: see ``slackemu.files``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

from slackemu import methods
from slackemu.blocks import validate_message
from slackemu.faults import Faults, RateLimits
from slackemu.files import FileHosting
from slackemu.manifest import Manifest
from slackemu.socket_mode import SocketModeServer
from slackemu.state import Message, Workspace

RESPONSE_URL_USES, RESPONSE_URL_TTL_S = 5, 30 * 60

# Methods that post or edit a message, whose text and blocks Slack validates.
MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})


class SlackEmulator:
    """Start with :meth:`start`; point the bot's SLACK_API_URL at :attr:`api_url`.

    It is as strict as Slack where orgtune depends on it: the manifest decides
    which commands, events and scopes the app has; rate limits answer 429 with
    Retry-After (``limits.enabled``); ``faults`` injects 5xx answers and reset
    connections; messages are validated against Block Kit's limits.
    """

    def __init__(
        self,
        bot_token: str = "xoxb-emulated-bot-token",
        host: str = "127.0.0.1",
        port: int = 0,
        manifest: Manifest | None = None,
        rate_limits: bool = True,
        app_token: str = "xapp-emulated-app-token",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        """The app-level token: it alone opens Socket Mode links (``apps.connections.open``)."""
        self._socket_mode: SocketModeServer | None = None
        self._socket_mode_lock = threading.Lock()
        self.manifest = manifest or Manifest.load()
        self.limits = RateLimits(enabled=rate_limits)
        self.faults = Faults()
        self.workspace = Workspace()
        self._responses: dict[str, tuple[str, str, float]] = {}
        self._response_uses: dict[str, int] = {}
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.files = FileHosting(self)
        """Download redirects, presigned links and the presigned host (which records any token sent to it)."""

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    @property
    def file_hosts(self) -> tuple[str, ...]:
        """Hosts downloads are redirected to that must never get the token (real Slack's *.slack-edge.com):
        give them to orgtune as ``extra_file_hosts`` (ORGTUNE_SLACK_FILE_HOSTS)."""
        return (self.files.host,)

    @property
    def socket_mode(self) -> SocketModeServer:
        """Slack's Socket Mode side, started on first use (HTTP-only tests never open a WebSocket port)."""
        with self._socket_mode_lock:
            if self._socket_mode is None:
                self._socket_mode = SocketModeServer(host=str(self._server.server_address[0])).start()
            return self._socket_mode

    def start(self) -> SlackEmulator:
        self.files.start()
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.files.stop()
        if self._socket_mode is not None:
            self._socket_mode.stop()

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- endpoints used by the driver ------------------------------------------------
    def new_response_url(self, channel: str, user: str) -> str:
        rid = self.workspace.new_id("R")
        self._responses[rid] = (channel, user, time.monotonic())
        return f"{self.base_url}/respond/{rid}"

    def file_url(self, file_id: str, name: str) -> str:
        return f"{self.base_url}/files/{file_id}/{quote(name)}"

    def api(self, method: str, token: str | None, params: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        """One Web API call: (HTTP status, headers, JSON answer), or a ``reset`` fault as the answer.

        In Slack's order: transport faults first (the request never got through),
        then authentication, scopes, rate limits, and the method itself.
        """
        fault = self.faults.take(method)
        if fault is not None:
            self.workspace.record(method, params, False, f"fault:{fault}")
            if fault == "reset":
                return 0, {}, "reset"
            return int(fault), {}, {"ok": False, "error": "fatal_error"}
        status, headers = 200, {}
        needed = self.manifest.missing_scope(method)
        # apps.connections.open alone takes the app-level token; every other method the bot token.
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            wrong_type = token in (self.bot_token, self.app_token)  # a real token, of the other kind
            error = "not_authed" if not token else "not_allowed_token_type" if wrong_type else "invalid_auth"
            result: dict[str, Any] = {"ok": False, "error": error}
        elif needed is not None:
            result = {
                "ok": False,
                "error": "missing_scope",
                "needed": ",".join(needed),
                "provided": ",".join(sorted(self.manifest.scopes)),
            }
        elif (retry_after := self.limits.check(method, params)) is not None:
            status, headers = 429, {"Retry-After": str(retry_after)}
            result = {"ok": False, "error": "ratelimited"}
        elif method in MESSAGE_METHODS and (invalid := validate_message(params.get("text"), _blocks(params))):
            result = invalid
        else:
            result = methods.call(self, method, params)
        self.workspace.record(method, params, bool(result.get("ok")), result.get("error"))
        return status, headers, result

    def handle_response_url(self, rid: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        target = self._responses.get(rid)
        if target is None:
            return 404, {"ok": False, "error": "expired_url"}
        channel, user, issued = target
        # Slack: a response_url can be used up to 5 times within 30 minutes.
        if time.monotonic() - issued > RESPONSE_URL_TTL_S:
            return 404, {"ok": False, "error": "expired_url"}
        if self._response_uses.get(rid, 0) >= RESPONSE_URL_USES:
            return 404, {"ok": False, "error": "used_url"}
        if (invalid := validate_message(payload.get("text"), payload.get("blocks"))) is not None:
            return 400, invalid
        self._response_uses[rid] = self._response_uses.get(rid, 0) + 1
        ws = self.workspace
        in_channel = payload.get("response_type") == "in_channel"
        ws.add_message(
            Message(
                channel=channel,
                ts=ws.new_ts(),
                user=ws.bot_user_id,
                text=payload.get("text", ""),
                thread_ts=payload.get("thread_ts"),
                blocks=payload.get("blocks"),
                ephemeral_to=None if in_channel else user,
                via="response_url",
            )
        )
        ws.record("response_url", payload, True, None)
        return 200, {"ok": True}


def _handler_for(emulator: SlackEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = urlparse(self.path).path
            if path.startswith(("/files/", "/files-pri/")):
                status, headers, body = emulator.files.answer_private(path, self._bearer())
                self._send(status, body, headers.pop("Content-Type"), headers)
            elif path.startswith("/api/"):
                self._api(path[len("/api/") :], self._params(b""))
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            path = urlparse(self.path).path
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if path.startswith("/api/"):
                self._api(path[len("/api/") :], self._params(body))
            elif path.startswith("/respond/"):
                status, payload = emulator.handle_response_url(path.rsplit("/", 1)[-1], _json(body))
                self._json(payload, status)
            elif path.startswith("/upload/"):
                ok = methods.receive_upload(emulator, path.rsplit("/", 1)[-1], body, self._bearer())
                self._send(200 if ok else 403, b"OK - " + str(len(body)).encode() if ok else b"forbidden", "text/plain")
            else:
                self._send(404, b"not found", "text/plain")

        def _params(self, body: bytes) -> dict[str, Any]:
            params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()}
            ctype = self.headers.get("Content-Type", "")
            if "application/json" in ctype:
                params.update(_json(body))
            elif body:
                params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
            return params

        def _bearer(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None

        def _api(self, method: str, params: dict[str, Any]) -> None:
            token = self._bearer() or params.pop("token", None)
            params.pop("token", None)
            status, headers, result = emulator.api(method, token, params)
            if result == "reset":  # drop the connection without an answer, as a failing proxy would
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._json(result, status, headers)

        def _json(self, payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

        def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _blocks(params: dict[str, Any]) -> Any:
    """Blocks arrive as JSON in a form field or as a list in a JSON body; undecodable ones are invalid."""
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        try:
            return json.loads(blocks)
        except ValueError:
            return "invalid"
    return blocks
