"""Shared fixtures: an isolated environment, a private Redis, and the full local stack.

No test can reach a real workspace: the autouse fixture clears every SLACK_*,
REDIS_URL, DATABASE_URL and ORGTUNE_* variable, and all Slack traffic goes to
the emulator.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orgtune.config import Config
from orgtune.redis_server import RedisServer
from slackemu import SlackDriver, SlackEmulator
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "ORGTUNE_")) or name in ("REDIS_URL", "DATABASE_URL", "PORT"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    from redis import Redis

    Redis.from_url(redis_server.url).flushdb()
    return redis_server.url


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the whole session: smollm2 is converted from GGUF once, the tiny model built once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def config(tmp_path: Path, redis_url: str, models_dir: Path) -> Config:
    """A complete configuration pointing at tmp_path and the private Redis (no Slack yet)."""
    return Config(
        redis_url=redis_url,
        data_dir=tmp_path / "data",
        slack_signing_secret=secrets.token_hex(16),
        models_dir_override=models_dir,
    )


@pytest.fixture
def db(config: Config) -> Database:
    database = Database(config.database_url)
    database.upgrade()
    return database


@dataclass
class Stack:
    config: Config
    emulator: SlackEmulator
    driver: SlackDriver
    db: Database
    worker: subprocess.Popen[bytes] | None
    worker_log: Path
    trainer: subprocess.Popen[bytes] | None = None
    answerer: subprocess.Popen[bytes] | None = None

    @property
    def ws(self):  # type: ignore[no-untyped-def]
        return self.emulator.workspace

    def _spawn(self, *queues: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.config.to_env(), "PYTHONUNBUFFERED": "1"}
        log = open(self.worker_log, "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            [sys.executable, "-m", "orgtune", "worker", *queues],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def start_worker(self, *queues: str) -> subprocess.Popen[bytes]:
        self.worker = self._spawn(*(queues or ("ingest",)))
        return self.worker

    def start_trainer(self) -> subprocess.Popen[bytes]:
        """A second worker, on the train queue (it probes its hardware first)."""
        self.trainer = self._spawn("train")
        return self.trainer

    def start_answerer(self) -> subprocess.Popen[bytes]:
        """A non-forking worker on the answer queue (keeps the model warm)."""
        self.answerer = self._spawn("answer")
        return self.answerer

    def stop_worker(self) -> None:
        from orgtune.processes import stop_worker

        for proc in (self.worker, self.trainer, self.answerer):
            if proc is not None:
                stop_worker(proc)
        self.worker = self.trainer = self.answerer = None

    def reply_in(self, channel: str, thread_ts: str, timeout: float = 60) -> str:
        """Wait for the bot's (first) reply in a thread and return its text."""
        msgs = self.ws.wait_for(
            lambda: [m for m in self.ws.replies(channel, thread_ts) if m.user == self.ws.bot_user_id], timeout
        )
        return str(msgs[0].text)

    def worker_output(self) -> str:
        return self.worker_log.read_text(errors="replace") if self.worker_log.exists() else ""


@pytest.fixture
def stack(config: Config, db: Database, tmp_path: Path) -> Iterator[Stack]:
    """Emulator + bot over signed HTTP + a real RQ worker process on the ingest queue."""
    from bot.app import create_app
    from bot.server import HttpServer

    with SlackEmulator(bot_token="xoxb-test-" + secrets.token_hex(6)) as emulator:
        cfg = config.with_(slack_bot_token=emulator.bot_token, slack_api_url=emulator.api_url)
        server = HttpServer(create_app(cfg)).start()
        driver = SlackDriver(emulator, server.url, cfg.slack_signing_secret or "")
        emulator.workspace.add_channel("C0A", "alpha")
        emulator.workspace.add_channel("C0B", "beta")
        emulator.workspace.add_user("U0ALICE", "alice")
        st = Stack(cfg, emulator, driver, db, None, tmp_path / "worker.log")
        st.start_worker()
        try:
            yield st
        finally:
            st.stop_worker()
            server.stop()
        slow = [a for a in driver.acks if a.seconds >= 3.0]
        assert not slow, f"acks over Slack's 3 s deadline: {slow}"


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")
