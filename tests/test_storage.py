"""Migrations from an empty database, the models matching them, channel scoping, and the
guarantees the database itself gives (on SQLite, and on PostgreSQL with --postgres)."""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select

from storage import documents, events, runs
from storage.artifacts import ArtifactWriteError
from storage.channels import ChannelKey
from storage.db import Database, downgrade, upgrade
from storage.models import Base, Document, DocumentStatus, RunStatus, SlackEvent


def test_migrations_build_the_schema_from_an_empty_database(database_url: str) -> None:
    """On SQLite, or on PostgreSQL with --postgres (a fresh, empty database either way)."""
    url = database_url
    upgrade(url)
    engine = create_engine(url)
    expected = {
        "documents",
        "sections",
        "slack_events",
        "training_runs",
        "examples",
        "adapters",
        "channel_state",
        "questions",
        "alembic_version",
    }
    assert set(inspect(engine).get_table_names()) == expected
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == [], f"models and migrations disagree: {diffs}"
    downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(url)  # and back up again
    engine.dispose()


def _ready(db: Database, key: ChannelKey, name: str, sha: str) -> int:
    with db.session() as s:
        doc = documents.create(s, key, documents.NewDocument(name=name, source="cli"))
        doc.sha256 = sha
        documents.mark_ready(
            s,
            doc,
            kind="text",
            title=None,
            pages=None,
            sections=[documents.ParsedSection("Intro", 1, "hello world", 2)],
        )
        return doc.id


def test_queries_are_scoped_to_one_channel(db: Database) -> None:
    a, b = ChannelKey("T1", "C0A"), ChannelKey("T1", "C0B")
    other_team = ChannelKey("T2", "C0A")
    _ready(db, a, "handbook.md", "aa")
    _ready(db, other_team, "secret.md", "bb")
    with db.session() as s:
        assert [d.name for d in documents.ready(s, a)] == ["handbook.md"]
        assert documents.ready(s, b) == []
        assert documents.find_by_name(s, b, "handbook.md") == []
        assert [d.name for d in documents.ready(s, other_team)] == ["secret.md"]
        assert documents.count_ready(s, a) == 1 and documents.count_ready(s, b) == 0


def test_duplicates_are_found_only_within_the_channel(db: Database) -> None:
    a, b = ChannelKey("T1", "C0A"), ChannelKey("T1", "C0B")
    _ready(db, a, "one.md", "same")
    with db.session() as s:
        doc_b = documents.create(s, b, documents.NewDocument(name="copy.md", source="cli"))
        doc_b.sha256 = "same"
        assert documents.duplicate_of(s, doc_b) is None
        doc_a = documents.create(s, a, documents.NewDocument(name="copy.md", source="cli"))
        doc_a.sha256 = "same"
        original = documents.duplicate_of(s, doc_a)
        assert original is not None and original.name == "one.md"


def test_claiming_the_same_slack_file_twice_yields_one_row(db: Database) -> None:
    key = ChannelKey("T1", "C0A")
    new = documents.NewDocument(name="F1", slack_file_id="F1")
    with db.session() as s:
        assert documents.claim(s, key, new) is not None
    with db.session() as s:
        threaded = documents.NewDocument(name="a.md", slack_file_id="F1", thread_ts="123.4", message_ts="123.5")
        assert documents.claim(s, key, threaded) is None
    with db.session() as s:
        doc = documents.by_slack_file(s, key, "F1")
        assert doc is not None and doc.thread_ts == "123.4" and doc.status == DocumentStatus.QUEUED
        # The same file id in another channel is another document.
        assert documents.claim(s, ChannelKey("T1", "C0B"), new) is not None


def test_one_active_run_per_channel_is_enforced_by_the_database(db: Database) -> None:
    """The partial unique index (sqlite_where / postgresql_where) allows one active run per channel."""
    key, other = ChannelKey("T1", "C0A"), ChannelKey("T1", "C0B")
    new: dict[str, Any] = {
        "model": "tiny",
        "base_model": "tiny",
        "requested_by": "U1",
        "plan": {"steps": 3, "nested": [1.5, None]},
    }
    with db.session() as s:
        first = runs.create_run(s, key, **new)
        assert first is not None
    with db.session() as s:
        assert runs.create_run(s, key, **new) is None
        assert runs.create_run(s, other, **new) is not None  # another channel is not blocked
    with db.session() as s:
        run = runs.get(s, first.id)
        assert run is not None and run.plan == new["plan"]  # JSON round trip
        runs.set_status(run, RunStatus.DONE)
    with db.session() as s:
        again = runs.create_run(s, key, **new)
        assert again is not None and again.id > first.id


def test_a_racing_claim_of_the_same_slack_file_waits_and_yields_one_row(db: Database) -> None:
    """Two bot threads claim one file: the second blocks on the unique index until the first commits."""
    key = ChannelKey("T1", "C0A")
    results: list[object] = []
    with db.session() as first:
        assert documents.claim(first, key, documents.NewDocument(name="F1", slack_file_id="F1")) is not None

        def second() -> None:
            with db.session() as s:
                threaded = documents.NewDocument(name="a.md", slack_file_id="F1", thread_ts="1.2", message_ts="1.3")
                results.append(documents.claim(s, key, threaded))

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        if db.engine.dialect.name == "postgresql":
            assert thread.is_alive()  # waiting for this transaction (SQLite already committed the claim)
    thread.join(30)
    assert results == [None]
    with db.session() as s:
        doc = documents.by_slack_file(s, key, "F1")
        assert doc is not None and doc.name == "a.md" and doc.thread_ts == "1.2"
        assert s.scalar(select(func.count(Document.id))) == 1


def test_timestamps_are_utc_whatever_the_session_time_zone(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL returns timestamptz in the session's time zone (PGTZ, the server's default)."""
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")
    database = Database(db.url)  # new connections, made with PGTZ set
    with database.session() as s:
        assert events.claim_event(s, "Ev1")
    with database.session() as s:
        received = s.get(SlackEvent, "Ev1")
        assert received is not None
        offset = received.received_at.utcoffset()
        assert offset is None or offset == timedelta(0)  # naive UTC on SQLite, UTC on PostgreSQL
    with database.session() as s:
        assert events.prune_events(s, older_than_s=3600) == 0
        assert events.prune_events(s, older_than_s=-60) == 1
    database.engine.dispose()


_WRITE_PAST_THE_FILE_SIZE_LIMIT = """
import resource, signal, sys
from pathlib import Path
from storage.artifacts import Artifacts, ArtifactWriteError
from storage.channels import ChannelKey

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so the write fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    Artifacts(Path(sys.argv[1])).save_document(ChannelKey("T1", "C0A"), 7, b"x" * 65536)
except ArtifactWriteError as exc:
    print(exc)
    sys.exit(0)
sys.exit(3)
"""


def test_a_failed_artifact_write_raises_a_clear_error_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    """Over RLIMIT_FSIZE a write fails with EFBIG, as a full disk fails with ENOSPC."""
    from jobs.ingest import describe
    from tests.conftest import ROOT

    root = tmp_path / "artifacts"
    done = subprocess.run(
        [sys.executable, "-c", _WRITE_PAST_THE_FILE_SIZE_LIMIT, str(root)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("the artifact directory is full (")
    assert [p.name for p in root.rglob("*") if p.is_file()] == []  # neither the document nor a .upload-* file
    # The ingest job tells the channel this as its internal failure's reason.
    full = ArtifactWriteError.from_os_error(OSError(errno.ENOSPC, "No space left on device"))
    assert describe(full) == "the artifact directory is full (No space left on device)"
