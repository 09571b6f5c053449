"""Serving the Bolt app over HTTP (gunicorn, or a threaded test server), or over Socket Mode.

Both HTTP servers host :func:`wsgi_app`: the health check, and Slack's requests at
/slack/events, refused before Bolt sees them when they are not a POST or their body
is too large or of unknown length (Bolt's WSGI adapter reads a body whole before it
checks the signature, so anyone could otherwise make it buffer gigabytes).

:func:`serve_gunicorn` is `orgtune serve` in HTTP mode: gunicorn's gthread workers,
each building its own Bolt app after the fork. :class:`HttpServer` (the standard
library's wsgiref, threaded) runs in-process for the tests and the demo.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

from orgtune import defaults
from orgtune.logs import RedactTokens

log = logging.getLogger("orgtune.bot")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class CappedInput:
    """A ``wsgi.input`` that yields at most ``limit`` bytes (the declared Content-Length).

    Bolt reads ``CONTENT_LENGTH`` bytes today; the wrapper makes that a guarantee, so no
    reader (a newer Bolt, middleware) can pull more from the socket than was checked.
    """

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self.remaining = limit

    def _allowed(self, size: int | None) -> int:
        return self.remaining if size is None or size < 0 else min(size, self.remaining)

    def read(self, size: int | None = -1) -> bytes:
        n = self._allowed(size)
        data = self._stream.read(n) if n else b""
        self.remaining -= len(data)
        return bytes(data)

    def readline(self, size: int | None = -1) -> bytes:
        n = self._allowed(size)
        data = self._stream.readline(n) if n else b""
        self.remaining -= len(data)
        return bytes(data)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


def _refusal(environ: dict[str, Any], max_body_bytes: int) -> tuple[str, list[tuple[str, str]]] | None:
    """Why a request to the events path must not reach Bolt (status, extra headers), or None."""
    if environ.get("REQUEST_METHOD") != "POST":
        return "405 Method Not Allowed", [("Allow", "POST")]
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    # A chunked body's size is known only once it has been read; Slack always sends a length.
    if environ.get("HTTP_TRANSFER_ENCODING") or not declared:
        return "411 Length Required", []
    if not (declared.isascii() and declared.isdigit()):
        return "400 Bad Request", []
    if int(declared) > max_body_bytes:
        return "413 Content Too Large", []
    return None


def wsgi_app(app: App, max_body_bytes: int = defaults.MAX_REQUEST_BYTES) -> WSGIApp:
    """The WSGI application: Slack requests at /slack/events, a health check at /healthz.

    A request to /slack/events reaches Bolt only as a POST with a Content-Length of at
    most ``max_body_bytes``, and Bolt can read no further than that length. Refusals
    read nothing from the body.
    """
    bolt = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == HEALTH_PATH:
            return _plain(start_response, "200 OK", "ok")
        if path != EVENTS_PATH:
            return _plain(start_response, "404 Not Found", "not found")
        refusal = _refusal(environ, max_body_bytes)
        if refusal is not None:
            status, headers = refusal
            # Scanners GET the events path all day; a refused POST may be a misconfigured proxy.
            level = logging.DEBUG if status.startswith("405") else logging.INFO
            log.log(level, "refused %s %s: %s", environ.get("REQUEST_METHOD"), path, status)
            return _plain(start_response, status, status.split(" ", 1)[1].lower(), headers)
        environ["wsgi.input"] = CappedInput(environ["wsgi.input"], int(environ["CONTENT_LENGTH"]))
        return bolt(environ, start_response)

    return application


def _plain(
    start_response: Callable[..., Any], status: str, text: str, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *(headers or [])],
    )
    return [body]


class HttpServer:
    """The bot over HTTP on ``host:port`` (port 0 picks a free one), in a background thread.

    The standard library's wsgiref, threaded: for tests and the demo, in-process.
    Production runs :func:`serve_gunicorn`; both host the same :func:`wsgi_app`.
    """

    def __init__(
        self, app: App, host: str = "127.0.0.1", port: int = 0, max_body_bytes: int = defaults.MAX_REQUEST_BYTES
    ) -> None:
        self._server = make_server(
            host,
            port,
            wsgi_app(app, max_body_bytes),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{EVENTS_PATH}"

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="orgtune-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        log.info("orgtune bot listening on %s", self.url)
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)


class _RedactingGunicornLogger(GunicornLogger):  # type: ignore[misc]
    """gunicorn's own loggers don't propagate to ours, so they get the token filter too."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.addFilter(RedactTokens())


class _GunicornApp(BaseApplication):  # type: ignore[misc]
    """gunicorn's documented custom-application API: settings from us, no config file or CLI."""

    def __init__(self, load: Callable[[], WSGIApp], options: dict[str, Any]) -> None:
        self._load, self._options = load, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        return self._load()


def gunicorn_options(
    host: str,
    port: int,
    *,
    workers: int = defaults.WEB_WORKERS,
    threads: int = defaults.WEB_THREADS,
    log_level: str = "INFO",
) -> dict[str, Any]:
    """The gunicorn settings `orgtune serve` runs with."""
    if workers < 1 or threads < 1:
        raise ValueError(f"need at least one worker and one thread (got {workers} workers, {threads} threads)")
    bind_host = f"[{host}]" if ":" in host else host  # an IPv6 address
    debug = log_level.upper() == "DEBUG"
    return {
        "bind": [f"{bind_host}:{port}"],
        "workers": workers,
        # Threads, not processes, for concurrency: a request holds its thread only until Bolt acks.
        "worker_class": "gthread",
        "threads": threads,
        # The Bolt app (thread pool, WebClient, Redis and database pools) must not cross a fork:
        # each worker builds its own in load().
        "preload_app": False,
        "graceful_timeout": defaults.WEB_GRACEFUL_TIMEOUT_S,
        "limit_request_line": defaults.MAX_REQUEST_LINE_BYTES,
        "limit_request_fields": defaults.MAX_REQUEST_HEADERS,
        "limit_request_field_size": defaults.MAX_HEADER_BYTES,
        "loglevel": log_level.lower(),
        "errorlog": "-",
        # Access lines only at DEBUG: they name paths, never bodies or headers, but a bot has
        # no use for a line per Slack event in production logs.
        "accesslog": "-" if debug else None,
        "logger_class": _RedactingGunicornLogger,
        # The control socket (gunicornc) would be a file in $HOME shared by every instance on
        # the host; deploys stop and scale orgtune through signals and the process manager.
        "control_socket_disable": True,
        "proc_name": "orgtune-web",
    }


def serve_gunicorn(
    app_factory: Callable[[], App],
    host: str,
    port: int,
    threads: int = defaults.WEB_THREADS,
    *,
    workers: int = defaults.WEB_WORKERS,
    log_level: str = "INFO",
    max_body_bytes: int = defaults.MAX_REQUEST_BYTES,
) -> None:
    """Run :func:`wsgi_app` on gunicorn until SIGTERM/SIGINT (then finish in-flight requests).

    ``app_factory`` is called in each worker process after the fork, never in the master.
    """
    options = gunicorn_options(host, port, workers=workers, threads=threads, log_level=log_level)
    log.info(
        "orgtune bot on gunicorn at http://%s:%d%s (%d worker(s) x %d threads)",
        host,
        port,
        EVENTS_PATH,
        workers,
        threads,
    )
    _GunicornApp(lambda: wsgi_app(app_factory(), max_body_bytes), options).run()


class SocketModeBot:
    """The bot over Socket Mode: no public URL and no signing; the app-level token opens the link.

    slack_sdk's built-in client (no extra dependency) acks each envelope once Bolt's ``ack()``
    ran, answers Slack's ``disconnect`` by opening a new link before dropping the old one, and
    reconnects by itself when a link drops. :meth:`connect` returns once connected (tests, the
    demo); :meth:`serve_forever` blocks (``orgtune serve``).
    """

    def __init__(self, app: App, app_token: str) -> None:
        # apps.connections.open goes through the app's own WebClient, so it reaches the configured
        # SLACK_API_URL (the emulator in tests and the demo) with the same retry handlers.
        self.handler = SocketModeHandler(app, app_token, web_client=app.client)

    @property
    def connected(self) -> bool:
        return self.handler.client.is_connected()

    def connect(self) -> SocketModeBot:
        """Open a link; on failure (e.g. ``invalid_auth`` for a wrong token) raise and stop the client's threads."""
        try:
            self.handler.connect()
            if not self.connected:  # slack_sdk logs a failed WebSocket handshake rather than raising it
                raise ConnectionError("the Socket Mode WebSocket handshake failed (see the log)")
        except BaseException:
            self.handler.close()
            raise
        log.info("orgtune bot connected over Socket Mode")
        return self

    def close(self) -> None:
        self.handler.close()

    def serve_forever(self) -> None:
        self.connect()
        threading.Event().wait()  # the client's threads do the work until the process is stopped


def serve_socket_mode(app: App, app_token: str) -> None:
    """Connect to Slack over Socket Mode (no public URL needed) and block."""
    SocketModeBot(app, app_token).serve_forever()
