"""Engines, sessions and migrations.

One :class:`Database` per process and URL. RQ forks a work horse per job, and a
SQLAlchemy connection pool must never cross a fork, so the engine is rebuilt when
the process id changes.

Only ``orgtune db upgrade`` (the release phase) migrates: ``orgtune serve`` and
``orgtune worker`` call :meth:`Database.wait_until_ready`, so processes started together
in a rolling deploy never race to migrate one database.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from orgtune import defaults

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


class DatabaseNotReady(RuntimeError):
    """The database stayed unreachable, or behind this release's migrations, for the whole startup wait.

    The message says why (never the password) and what to do; the command line prints it and exits 1.
    """


@dataclass(frozen=True)
class SchemaStatus:
    """The database's Alembic revision against the newest migration bundled with this release."""

    current: str | None
    """The database's ``alembic_version`` (None: never migrated)."""

    head: str
    """The newest bundled migration: the schema this release needs."""

    state: Literal["at_head", "behind", "ahead"]
    """``ahead``: a revision this release doesn't know, written by a newer release."""

    def describe(self) -> str:
        at = f"at {self.current}" if self.current else "empty"
        if self.state == "behind":
            return f"database schema {at}, this release needs {self.head}: run `orgtune db upgrade`"
        if self.state == "ahead":
            return f"database schema {at}, newer than this release's {self.head} (a newer release migrated it)"
        return f"database schema {at}"


class Database:
    """A lazily created, fork-aware engine and session factory for one URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pid: int | None = None
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            if self._engine is not None:
                # Inherited from the parent: drop the pool without closing its sockets.
                self._engine.dispose(close=False)
            self._engine = make_engine(self.url)
            self._sessions = sessionmaker(self._engine, expire_on_commit=False)
            self._pid = os.getpid()
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any exception."""
        self.engine  # noqa: B018 - (re)build the factory for this process
        assert self._sessions is not None
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (`orgtune db upgrade` and command-line conveniences)."""
        upgrade(self.url)

    def schema_status(self) -> SchemaStatus:
        """Compare the database's ``alembic_version`` with the bundled migrations' head (one query)."""
        head, known = _bundled_revisions()
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            state: Literal["at_head", "behind", "ahead"] = "at_head"
        elif current is None or current in known:
            state = "behind"  # the history is linear: every known revision but the head is older
        else:
            state = "ahead"
        return SchemaStatus(current, head, state)

    def wait_until_ready(self, timeout_s: float) -> SchemaStatus:
        """Wait, up to ``timeout_s``, until the database answers and has this release's schema.

        Unreachable or behind: log a one-line reason, retry with backoff. Ahead (a newer
        release migrated it; migrations only add): warn and go on. Raises
        :class:`DatabaseNotReady` with the last reason when the time is up.
        """
        deadline = time.monotonic() + timeout_s
        pause = defaults.STARTUP_RETRY_FIRST_S
        while True:
            try:
                status = self.schema_status()
            except DBAPIError as exc:  # refused, unknown host, bad password, database missing, ...
                reason = f"database {self.safe_url} unreachable: {self._reason(exc)}"
            else:
                if status.state == "ahead":
                    log.warning("%s; going on, since migrations only add", status.describe())
                if status.state != "behind":
                    return status
                reason = status.describe()
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseNotReady(f"{reason} (gave up after {timeout_s:g} s)")
            nap = min(pause, left)
            log.warning("waiting for the database: %s; next try in %.1f s", reason, nap)
            time.sleep(nap)
            pause = min(pause * 2, defaults.STARTUP_RETRY_MAX_S)

    @property
    def safe_url(self) -> str:
        """The URL for messages and logs: the password shown as ***."""
        return make_url(self.url).render_as_string(hide_password=True)

    def _reason(self, exc: DBAPIError) -> str:
        # The driver's own message without SQLAlchemy's SQL and help link, on one line; libpq
        # never echoes the password, but strip it anyway should a driver ever do so.
        text = " ".join(str(exc.orig).split()) or type(exc.orig).__name__
        password = make_url(self.url).password
        return text.replace(str(password), "***") if password else text


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and enforced foreign keys,
    PostgreSQL sessions the UTC time zone."""
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": defaults.SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_pre_ping"] = True
        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": defaults.DB_CONNECT_TIMEOUT_S}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_utc)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the bot read while a worker writes; foreign keys make cascades real.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={defaults.SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _postgres_utc(dbapi_connection: Any, _record: Any) -> None:
    # timestamptz values come back in the session's time zone (the server's default, or
    # PGTZ); times shown as UTC in Slack and the command line must be UTC.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # a SET in a transaction the pool rolls back would not last
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    dbapi_connection.autocommit = autocommit


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@functools.cache
def _bundled_revisions() -> tuple[str, frozenset[str]]:
    """(head, every revision) of the migrations shipped with this release; they never change while it runs."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None, "no migrations bundled"
    return head, frozenset(s.revision for s in script.walk_revisions())


def upgrade(url: str, revision: str = "head") -> None:
    """Run Alembic migrations up to ``revision`` against ``url``."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
