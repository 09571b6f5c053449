"""Migrations from an empty database, the models matching them, and channel scoping."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from storage import documents
from storage.channels import ChannelKey
from storage.db import Database, downgrade, upgrade
from storage.models import Base, DocumentStatus


def test_migrations_build_the_schema_from_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
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
