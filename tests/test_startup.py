"""Starting `orgtune serve` and `orgtune worker`: only `orgtune db upgrade` migrates, the processes
wait (bounded) for it and for an unreachable database, and exit with a message, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker
from sqlalchemy import text

from orgtune.config import Config
from storage.db import Database, upgrade
from tests.conftest import ROOT, wait_until


def test_schema_status_empty_behind_at_head_and_ahead(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(database_url)
    empty = db.schema_status()
    assert (empty.current, empty.state) == (None, "behind")
    assert empty.describe() == f"database schema empty, this release needs {empty.head}: run `orgtune db upgrade`"

    upgrade(database_url, "0004")
    older = db.schema_status()
    assert (older.current, older.head, older.state) == ("0004", empty.head, "behind")
    assert f"database schema at 0004, this release needs {older.head}: run `orgtune db upgrade`" == older.describe()

    db.upgrade()
    assert db.schema_status().state == "at_head"
    assert db.wait_until_ready(0).current == older.head

    with db.engine.begin() as conn:  # as a newer release's migration leaves it
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    assert db.schema_status().state == "ahead"
    assert db.wait_until_ready(0).current == "9999"  # a warning, then on: migrations only add
    assert f"database schema at 9999, newer than this release's {older.head}" in caplog.text
    db.engine.dispose()


def _orgtune(config: Config, *args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **config.to_env(), "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "orgtune", *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )


def test_a_worker_waits_for_the_upgrade_then_starts(config: Config, tmp_path: Path) -> None:
    from orgtune.processes import stop_worker

    upgrade(config.database_url, "0004")  # the previous release's schema
    head = Database(config.database_url).schema_status().head
    cfg = config.with_(startup_wait_s=90.0)
    log = tmp_path / "worker.log"
    worker = _orgtune(cfg, "worker", "ingest", log=log)
    try:
        wanted = f"database schema at 0004, this release needs {head}: run `orgtune db upgrade`"
        wait_until(lambda: wanted in log.read_text(), timeout=60)
        assert worker.poll() is None, log.read_text()
        assert Database(config.database_url).schema_status().current == "0004"  # the worker didn't migrate

        env = {**os.environ, **cfg.to_env()}
        done = subprocess.run([sys.executable, "-m", "orgtune", "db", "upgrade"], env=env, cwd=ROOT, timeout=120)
        assert done.returncode == 0

        redis = Redis.from_url(config.redis_url or "")
        wait_until(lambda: Worker.all(connection=redis), timeout=60)  # registered with RQ: it started
        assert worker.poll() is None, log.read_text()
    finally:
        stop_worker(worker)


@pytest.mark.parametrize("command", [("serve",), ("worker", "ingest")])
def test_an_unreachable_database_ends_start_with_a_message(tmp_path: Path, command: tuple[str, ...]) -> None:
    config = Config(
        data_dir=tmp_path,
        database_url_override="postgresql://postgres:s3cret-pw@127.0.0.1:1/x",  # nothing listens on port 1
        redis_url="redis://127.0.0.1:1/0",  # never reached: the database comes first
        slack_bot_token="xoxb-test-startup",
        slack_signing_secret="secret",
        startup_wait_s=2.0,
    )
    env = {**os.environ, **config.to_env()}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "orgtune", *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert time.monotonic() - started < 30, "the startup wait is bounded"
    assert "Traceback" not in output
    assert "s3cret-pw" not in output
    last = done.stderr.strip().splitlines()[-1]
    where = "postgresql+psycopg://postgres:***@127.0.0.1:1/x"
    assert last.startswith(f"orgtune {command[0]}: database {where} unreachable: "), last
    assert last.endswith("(gave up after 2 s)")
    retries = [line for line in output.splitlines() if "waiting for the database" in line]
    assert retries and all("unreachable" in line for line in retries)
