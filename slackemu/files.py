"""File downloads as real Slack serves them: a token-checked hop, then a presigned URL on another host.

Real Slack answers ``url_private`` on files.slack.com (with ``Authorization: Bearer``)
with redirects: one within ``*.slack.com``, then on to a presigned URL on a separate
file host (``*.slack-edge.com``, ``*.slack-files.com``) that needs no token. A bad or
missing token gets HTTP 200 with an HTML sign-in page, not an error status.

The emulator reproduces that shape so orgtune's download code is tested against it:
the API server answers ``/files/...`` and ``/files-pri/...`` with 302s, and a second
small server bound to another loopback address plays the presigned host. That host
records every Authorization header it receives, so tests can assert the bot token
never leaves Slack's own hosts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlparse

if TYPE_CHECKING:
    from slackemu.server import SlackEmulator

PRESIGNED_HOSTS = ("127.0.0.2", "localhost")
"""Another loopback address is "another host" for orgtune's host checks; Linux routes all of 127/8
without setup. ``localhost`` is the fallback where 127.0.0.2 can't be bound (it is a different host
*name* from the API's 127.0.0.1, which is what the checks compare)."""

PRESIGNED_TTL_S = 300
"""How long a presigned link works; real ones expire within minutes too."""

SIGN_IN_PAGE = (
    b'<!DOCTYPE html><html lang="en-US"><head><meta charset="utf-8"><title>Sign in | Slack</title></head>'
    b"<body><h1>Sign in to your workspace</h1>"
    b"<p>You need to sign in to see this page.</p></body></html>"
)
"""What Slack answers (HTTP 200, text/html) to a file request with a bad or missing token."""


class FileHosting:
    """The download half of the emulator: redirect hops, presigned links and the presigned host."""

    def __init__(self, emulator: SlackEmulator) -> None:
        self._emulator = emulator
        self._key = secrets.token_bytes(32)
        self.presigned_authorizations: list[str] = []
        """Every Authorization header the presigned host received (tests assert it stays empty)."""
        self.presigned_requests: list[str] = []
        """Paths (with query) the presigned host was asked for, in order."""
        self.slow_s = 0.0
        """Seconds the presigned host waits before answering (a slow file host; tests catch a job mid-download)."""
        # ``host``: the presigned host's name as it appears in redirect URLs (what the config must allow).
        self._server, self.host = _bind_presigned(self)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def received_token(self) -> bool:
        """True if any request to the presigned host carried an Authorization header."""
        return bool(self.presigned_authorizations)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-files", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- URLs ----------------------------------------------------------------------
    def private_path(self, file_id: str, name: str) -> str:
        """The second hop, within Slack's own host (real Slack: files.slack.com/files-pri/T-F/name)."""
        return f"/files-pri/{self._emulator.workspace.team_id}-{file_id}/{quote(name)}"

    def presign(self, file_id: str, ttl_s: float = PRESIGNED_TTL_S) -> str:
        """A presigned link to the file's bytes on the presigned host; ``ttl_s`` < 0 gives an expired one."""
        expires = int(time.time() + ttl_s)
        return f"{self.base_url}/presigned/{file_id}?exp={expires}&sig={self._sign(file_id, expires)}"

    def _sign(self, file_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    # --- the API host's side ---------------------------------------------------------
    def answer_private(self, path: str, bearer: str | None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for ``/files/<id>/<name>`` or ``/files-pri/<team>-<id>/<name>``."""
        emu = self._emulator
        parts = path.split("/")
        if len(parts) < 3:
            return 404, {"Content-Type": "text/plain"}, b"file not found"
        first_hop = parts[1] == "files"
        file_id = parts[2] if first_hop else parts[2].rpartition("-")[2]
        if bearer != emu.bot_token or "files:read" not in emu.manifest.scopes:
            # Slack doesn't say 401/403 here, for a bad token or one without files:read:
            # it serves its sign-in page with 200.
            return 200, {"Content-Type": "text/html; charset=utf-8"}, SIGN_IN_PAGE
        stored = emu.workspace.files.get(file_id)
        if stored is None:
            return 404, {"Content-Type": "text/plain"}, b"file not found"
        if first_hop:
            emu.workspace.record("files.download", {"file": stored.id}, True, None)
            location = emu.base_url + self.private_path(stored.id, stored.name)
        else:
            location = self.presign(stored.id)
        return 302, {"Location": location, "Content-Type": "text/plain"}, b"Found"

    # --- the presigned host's side ---------------------------------------------------
    def answer_presigned(self, path_and_query: str, authorization: str | None) -> tuple[int, str, bytes]:
        """(status, content type, body) for ``/presigned/<id>?exp=...&sig=...``: no token needed."""
        self.presigned_requests.append(path_and_query)
        if authorization is not None:
            self.presigned_authorizations.append(authorization)
        parsed = urlparse(path_and_query)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        parts = parsed.path.split("/")
        if len(parts) != 3 or parts[1] != "presigned":
            return 404, "text/plain", b"not found"
        file_id, exp, sig = parts[2], query.get("exp", ""), query.get("sig", "")
        if not exp.isdigit() or not hmac.compare_digest(sig, self._sign(file_id, int(exp))):
            return 403, "text/plain", b"bad signature"
        if int(exp) < time.time():
            return 403, "text/plain", b"link expired"
        stored = self._emulator.workspace.files.get(file_id)
        if stored is None:
            return 404, "text/plain", b"file not found"
        time.sleep(self.slow_s)
        return 200, stored.mimetype or "application/octet-stream", stored.content


def _bind_presigned(hosting: FileHosting) -> tuple[ThreadingHTTPServer, str]:
    last: OSError | None = None
    for name in PRESIGNED_HOSTS:
        try:
            server = ThreadingHTTPServer((name, 0), _presigned_handler(hosting))
        except OSError as exc:  # 127.0.0.2 isn't routable on every OS (macOS needs an alias)
            last = exc
            continue
        server.daemon_threads = True
        return server, name
    raise OSError(f"could not bind the emulator's presigned file host: {last}")


def _presigned_handler(hosting: FileHosting) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            status, ctype, body = hosting.answer_presigned(self.path, self.headers.get("Authorization"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
