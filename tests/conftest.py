"""Shared fixtures: an isolated environment, a private Redis, and the full local stack.

No test can reach a real workspace: the autouse fixture clears every SLACK_*,
REDIS_URL, DATABASE_URL and ORGTUNE_* variable, and all Slack traffic goes to
the emulator.

Databases are SQLite files in each test's directory by default. With
``--postgres URL`` (or ``ORGTUNE_TEST_DATABASE_URL=URL``), naming a database on a
PostgreSQL server whose user may CREATE DATABASE, every test that builds a
configuration instead gets a PostgreSQL database of its own, created on first use
and dropped after the test; worker and command-line subprocesses receive it as
DATABASE_URL through ``Config.to_env()``. DATABASE_URL itself is still never read.
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
from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

from orgtune.config import Config
from orgtune.redis_server import RedisServer
from slackemu import SlackDriver, SlackEmulator
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
POSTGRES_ENV = "ORGTUNE_TEST_DATABASE_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--postgres",
        metavar="URL",
        default=os.environ.get(POSTGRES_ENV) or None,
        help=f"run against PostgreSQL: a database URL on a server whose user may CREATE DATABASE "
        f"(default: ${POSTGRES_ENV}); each test gets its own database, dropped afterwards",
    )


class PostgresServer:
    """Creates and drops throwaway ``orgtune_test_*`` databases (only ones it created)."""

    def __init__(self, url: str) -> None:
        # Config's rule maps postgres:// and postgresql:// to psycopg 3.
        self.url = make_url(Config(database_url_override=url).database_url)
        if self.url.get_backend_name() != "postgresql":
            raise pytest.UsageError(f"--postgres/{POSTGRES_ENV} must be a PostgreSQL URL, not {self.url.drivername}")
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.created: set[str] = set()

    def create(self) -> str:
        name = f"orgtune_test_{secrets.token_hex(6)}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.created.add(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        # FORCE (PostgreSQL 13+) ends connections still open: pools of in-process engines,
        # a worker that was killed mid-query.
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.discard(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop(name)
        self.admin.dispose()


class TestDatabase:
    """This test's database: None means SQLite in the configuration's data directory."""

    __test__ = False  # not a test class

    def __init__(self, server: PostgresServer | None) -> None:
        self.server = server
        self._url: str | None = None

    @property
    def url(self) -> str | None:
        """A DATABASE_URL for this test's own PostgreSQL database (created now if needed), or None."""
        if self.server is not None and self._url is None:
            self._url = self.server.create()
        return self._url

    def close(self) -> None:
        if self.server is not None and self._url is not None:
            name = make_url(self._url).database
            self._url = None
            assert name
            self.server.drop(name)


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> Iterator[PostgresServer | None]:
    url = pytestconfig.getoption("postgres")
    if not url:
        yield None
        return
    server = PostgresServer(url)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "ORGTUNE_")) or name in ("REDIS_URL", "DATABASE_URL", "PORT"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def test_database(postgres_server: PostgresServer | None) -> Iterator[TestDatabase]:
    """This test's database: ``url`` is None (SQLite in the data directory) or, with --postgres, a fresh
    PostgreSQL database that every Config the test builds names as ``database_url_override``, so
    in-process code and the subprocesses it starts share it."""
    database = TestDatabase(postgres_server)
    try:
        yield database
    finally:
        database.close()


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
def database_url(tmp_path: Path, test_database: TestDatabase) -> str:
    """The SQLAlchemy URL of this test's database (empty until migrated): SQLite, or PostgreSQL with --postgres."""
    return Config(data_dir=tmp_path / "data", database_url_override=test_database.url).database_url


@pytest.fixture
def config(tmp_path: Path, redis_url: str, models_dir: Path, test_database: TestDatabase) -> Config:
    """A complete configuration pointing at tmp_path, this test's database and the private Redis (no Slack yet)."""
    return Config(
        redis_url=redis_url,
        data_dir=tmp_path / "data",
        database_url_override=test_database.url,
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
        cfg = config.with_(
            slack_bot_token=emulator.bot_token, slack_api_url=emulator.api_url, extra_file_hosts=emulator.file_hosts
        )
        server = HttpServer(create_app(cfg)).start()
        driver = SlackDriver(emulator, server.url, cfg.slack_signing_secret or "")
        st = _started(Stack(cfg, emulator, driver, db, None, tmp_path / "worker.log"))
        try:
            yield st
        finally:
            st.stop_worker()
            server.stop()
        slow = [a for a in driver.acks if a.seconds >= 3.0]
        assert not slow, f"acks over Slack's 3 s deadline: {slow}"


def _started(st: Stack) -> Stack:
    """The workspace every stack test starts from (#alpha, #beta, alice) and an ingest worker."""
    st.ws.add_channel("C0A", "alpha")
    st.ws.add_channel("C0B", "beta")
    st.ws.add_user("U0ALICE", "alice")
    st.start_worker()
    return st


@pytest.fixture
def socket_stack(config: Config, db: Database, tmp_path: Path) -> Iterator[Stack]:
    """``stack`` over Socket Mode: the bot opens its link with the app-level token and has no signing secret."""
    import dataclasses

    from bot.app import create_app
    from bot.server import SocketModeBot
    from slackemu.manifest import Manifest

    manifest = dataclasses.replace(Manifest.load(), socket_mode=True)  # as a Socket Mode app is configured
    bot_token, app_token = "xoxb-test-" + secrets.token_hex(6), "xapp-test-" + secrets.token_hex(6)
    with SlackEmulator(bot_token=bot_token, app_token=app_token, manifest=manifest) as emulator:
        cfg = config.with_(
            slack_bot_token=emulator.bot_token,
            slack_app_token=emulator.app_token,
            slack_signing_secret=None,
            slack_api_url=emulator.api_url,
            extra_file_hosts=emulator.file_hosts,
        )
        bot = SocketModeBot(create_app(cfg), emulator.app_token).connect()
        driver = SlackDriver.socket_mode(emulator)
        st = _started(Stack(cfg, emulator, driver, db, None, tmp_path / "worker.log"))
        try:
            yield st
        finally:
            st.stop_worker()
            bot.close()  # before the emulator stops, or the client would try to reconnect to it
        slow = [a for a in driver.acks if a.status != 200 or a.seconds >= 3.0]
        assert not slow, f"envelopes not acked within Slack's 3 s: {slow}"


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")
