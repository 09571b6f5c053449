"""HTTP mode: `orgtune serve` on gunicorn end to end, and the body cap of ``wsgi_app``."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult

from bot.server import EVENTS_PATH, CappedInput, gunicorn_options, wsgi_app
from orgtune.config import Config
from slackemu import SlackDriver, SlackEmulator
from slackemu.driver import sign
from storage.db import Database
from tests.conftest import ROOT, wait_until

SECRET = "test-signing-secret"


# --- wsgi_app's cap, with fake WSGI environs (no server) ------------------------------


class CountingInput:
    """An endless request body that counts what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size >= 0, "an unbounded read of an endless body"
        self.read_bytes += size
        return b"a" * size

    def readline(self, size: int | None = -1) -> bytes:
        return self.read(size)


def _signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    return {"HTTP_X_SLACK_REQUEST_TIMESTAMP": ts, "HTTP_X_SLACK_SIGNATURE": sign(SECRET, ts, body)}


def _call(app: Any, method: str = "POST", path: str = EVENTS_PATH, **environ: Any) -> tuple[int, bytes, Any]:
    stream = environ.pop("stream", None) or CountingInput()
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": stream,
        **environ,
    }
    started: list[str] = []
    body = b"".join(app(env, lambda status, headers, exc_info=None: started.append(status)))
    return int(started[0].split()[0]), body, stream


@pytest.fixture
def capped() -> Any:
    # A fixed authorization: Bolt would otherwise ask Slack's auth.test who the bot is.
    auth = AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-unit", bot_user_id="UBOT", bot_id="B1")
    bolt = App(signing_secret=SECRET, authorize=lambda **_: auth)

    @bolt.command("/orgtune")
    def _help(ack: Any, command: dict[str, Any]) -> None:
        ack(f"got {command['text']}")

    return wsgi_app(bolt, max_body_bytes=1000)


def test_cap_refuses_before_reading_the_body(capped: Any) -> None:
    status, _, stream = _call(capped, CONTENT_LENGTH="1001", CONTENT_TYPE="application/json")
    assert status == 413 and stream.read_bytes == 0
    status, _, stream = _call(capped, CONTENT_LENGTH="50000000")
    assert status == 413 and stream.read_bytes == 0
    status, _, stream = _call(capped, HTTP_TRANSFER_ENCODING="chunked")  # no length: chunked
    assert status == 411 and stream.read_bytes == 0
    assert _call(capped)[0] == 411  # no Content-Length at all
    assert _call(capped, CONTENT_LENGTH="-5")[0] == 400
    assert _call(capped, CONTENT_LENGTH="12abc")[0] == 400
    assert _call(capped, CONTENT_LENGTH="²")[0] == 400  # a digit to str.isdigit, not to int()
    assert _call(capped, method="GET")[0] == 405
    assert _call(capped, method="PUT", CONTENT_LENGTH="2")[0] == 405
    assert _call(capped, method="GET", path="/healthz")[:2] == (200, b"ok\n")
    assert _call(capped, path="/other", CONTENT_LENGTH="2")[0] == 404


def test_bolt_reads_no_further_than_the_declared_length(capped: Any) -> None:
    # An endless body behind a declared length: Bolt reads exactly that many bytes, and they
    # don't match the signature (it signed a different body).
    status, _, stream = _call(capped, CONTENT_LENGTH="1000", **_signed(b"{}"))
    assert status == 401 and stream.read_bytes == 1000

    form = urlencode({"command": "/orgtune", "text": "help", "team_id": "T1", "user_id": "U1"}).encode()
    status, body, _ = _call(
        capped,
        CONTENT_LENGTH=str(len(form)),
        CONTENT_TYPE="application/x-www-form-urlencoded",
        stream=io.BytesIO(form + b"&trailing=garbage"),
        **_signed(form),
    )
    assert (status, body) == (200, b"got help")


def test_capped_input_never_passes_its_limit() -> None:
    capped = CappedInput(io.BytesIO(b"line one\nline two\nmore than declared"), limit=12)
    assert capped.readline() == b"line one\n"
    assert capped.read(100) == b"lin"
    assert capped.read() == b"" and capped.readline() == b"" and capped.remaining == 0
    assert list(CappedInput(io.BytesIO(b"a\nb\nc"), limit=4)) == [b"a\n", b"b\n"]


def test_gunicorn_settings_come_from_the_configuration() -> None:
    cfg = Config.from_env({"ORGTUNE_WEB_WORKERS": "3", "WEB_CONCURRENCY": "16"})
    assert cfg.web_workers == 3 and Config.from_env(cfg.to_env()) == cfg
    assert Config.from_env({"WEB_CONCURRENCY": "16"}).web_workers == 1  # the platform's guess is not followed
    options = gunicorn_options("::", 3000, workers=cfg.web_workers)
    assert options["bind"] == ["[::]:3000"] and options["workers"] == 3
    assert options["worker_class"] == "gthread" and options["threads"] >= 2 and not options["preload_app"]
    assert options["accesslog"] is None and gunicorn_options("0.0.0.0", 1, log_level="DEBUG")["accesslog"] == "-"
    with pytest.raises(ValueError):
        gunicorn_options("0.0.0.0", 3000, workers=0)


# --- `orgtune serve` under gunicorn ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _raw(port: int, request: bytes, timeout: float = 5.0) -> tuple[int, float]:
    """Send raw bytes; return the response's status and how long it took to arrive."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        status_line = sock.makefile("rb").readline()
    return int(status_line.split()[1]), time.monotonic() - start


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path, cfg: Config) -> None:
        self.proc, self.port, self.log, self.cfg = proc, port, log, cfg
        self.url = f"http://127.0.0.1:{port}{EVENTS_PATH}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def served(config: Config, db: Database, tmp_path: Path) -> Iterator[tuple[Served, SlackEmulator]]:
    """`orgtune serve` on a migrated database (only `orgtune db upgrade` migrates; the db fixture did)."""
    with SlackEmulator(bot_token="xoxb-serve-" + os.urandom(6).hex()) as emulator:
        emulator.workspace.add_channel("C0A", "alpha")
        emulator.workspace.add_user("U0ALICE", "alice")
        cfg = config.with_(
            slack_bot_token=emulator.bot_token, slack_api_url=emulator.api_url, port=_free_port(), log_level="DEBUG"
        )
        log = tmp_path / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "orgtune", "serve", "--host", "127.0.0.1"],
                env={**os.environ, **cfg.to_env(), "PYTHONUNBUFFERED": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        server = Served(proc, cfg.port, log, cfg)
        try:
            wait_until(lambda: _healthy(server), timeout=90, interval=0.2)
            yield server, emulator
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _healthy(server: Served) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(f"orgtune serve exited with {server.proc.returncode}:\n{server.output()}")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def test_serve_runs_the_bot_on_gunicorn(served: tuple[Served, SlackEmulator]) -> None:
    server, emulator = served
    driver = SlackDriver(emulator, server.url, server.cfg.slack_signing_secret or "")

    # A signed slash command is acked in time and answered through its response_url.
    ack = driver.slash("/orgtune", "help", "C0A", "U0ALICE")
    assert ack.status == 200 and ack.seconds < 3.0
    replies = emulator.workspace.wait_for(
        lambda: [m for m in emulator.workspace.messages if m.via == "response_url"], timeout=15
    )
    assert "/orgtune help" in str(replies[0].text)

    # A wrong signature is refused by Bolt; a body over the cap without being read (50 MB
    # declared, a few bytes sent: the answer comes at once, not after a wait for the rest).
    assert driver.slash("/orgtune", "help", "C0A", "U0ALICE", secret="not-the-secret").status == 401
    head = f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
    status, seconds = _raw(server.port, (head + "Content-Length: 50000000\r\n\r\n").encode() + b'{"a":')
    assert status == 413 and seconds < 2.0
    status, _ = _raw(server.port, (head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n").encode())
    assert status == 411
    assert _raw(server.port, f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: bot\r\n\r\n".encode())[0] == 405

    # SIGTERM: gunicorn finishes in-flight requests, stops its workers and exits 0.
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=20) == 0, server.output()
    stopped_in = time.monotonic() - started

    output = server.output()
    assert "Using worker: gthread" in output  # gunicorn served it, not wsgiref
    assert stopped_in < 10, f"took {stopped_in:.1f} s to stop"
    assert emulator.bot_token not in output
    assert (server.cfg.slack_signing_secret or "") not in output
