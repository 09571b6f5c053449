"""The Slack Web API emulator: an HTTP server on a free port, in a background thread.

It implements the methods orgtune calls with Slack's documented request and
response shapes, requires the bot token on every call and on file downloads,
serves ``response_url`` endpoints, and records every call in order.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

from slackemu import methods
from slackemu.state import Message, Workspace


class SlackEmulator:
    """Start with :meth:`start`; point the bot's SLACK_API_URL at :attr:`api_url`."""

    def __init__(self, bot_token: str = "xoxb-emulated-bot-token", host: str = "127.0.0.1", port: int = 0) -> None:
        self.bot_token = bot_token
        self.workspace = Workspace()
        self._responses: dict[str, tuple[str, str]] = {}
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def start(self) -> SlackEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- endpoints used by the driver ------------------------------------------------
    def new_response_url(self, channel: str, user: str) -> str:
        rid = self.workspace.new_id("R")
        self._responses[rid] = (channel, user)
        return f"{self.base_url}/respond/{rid}"

    def file_url(self, file_id: str, name: str) -> str:
        return f"{self.base_url}/files/{file_id}/{quote(name)}"

    def handle_response_url(self, rid: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        target = self._responses.get(rid)
        if target is None:
            return 404, {"ok": False, "error": "expired_url"}
        channel, user = target
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
            if path.startswith("/files/"):
                self._serve_file(path)
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
            ws = emulator.workspace
            if token != emulator.bot_token:
                result: dict[str, Any] = {"ok": False, "error": "not_authed" if not token else "invalid_auth"}
            else:
                result = methods.call(emulator, method, params)
            ws.record(method, params, bool(result.get("ok")), result.get("error"))
            self._json(result)

        def _serve_file(self, path: str) -> None:
            parts = path.split("/")
            stored = emulator.workspace.files.get(parts[2]) if len(parts) > 2 else None
            if self._bearer() != emulator.bot_token:
                # Real Slack answers an HTML login page; a plain 403 keeps mistakes obvious.
                self._send(403, b"authentication required", "text/plain")
            elif stored is None:
                self._send(404, b"file not found", "text/plain")
            else:
                emulator.workspace.record("files.download", {"file": stored.id}, True, None)
                self._send(200, stored.content, stored.mimetype or "application/octet-stream")

        def _json(self, payload: dict[str, Any], status: int = 200) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
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
