"""SQLAlchemy models. Every row that holds knowledge belongs to one channel.

A channel is a knowledge space identified by ``(team_id, channel_id)``; later
tables (runs, examples, adapters, questions) carry the same pair so that every
query can be scoped to it. Schema changes go through Alembic migrations in
``storage/migrations``; these classes must match the newest migration.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class DocumentStatus:
    """Lifecycle of a document row. Only READY documents carry sections."""

    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    FINAL = frozenset({READY, REJECTED, DUPLICATE})


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "slack_file_id", name="uq_documents_channel_file"),
        Index("ix_documents_channel", "team_id", "channel_id", "status"),
        Index("ix_documents_channel_sha", "team_id", "channel_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    """The thread replies about this document go to (the sharing message's ts if not in a thread)."""
    message_ts: Mapped[str | None] = mapped_column(String(32))
    """The message that shared the file, when known (for the :eyes: reaction)."""
    slack_file_id: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="slack")
    name: Mapped[str] = mapped_column(String(255))
    mimetype: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str | None] = mapped_column(String(16))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(255))
    pages: Mapped[int | None] = mapped_column(Integer)
    words: Mapped[int | None] = mapped_column(Integer)
    uploader: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=DocumentStatus.QUEUED)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When a worker last began processing it (the reconciler's clock for a lost job)."""
    """When the outcome was posted to Slack; a re-run job posts only if this is empty."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    sections: Mapped[list[Section]] = relationship(
        back_populates="document",
        order_by="Section.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def __repr__(self) -> str:
        return f"<Document {self.id} {self.name!r} {self.status} {self.team_id}/{self.channel_id}>"


class Section(Base):
    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("document_id", "position", name="uq_sections_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(String(500))
    level: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[int] = mapped_column(Integer)

    document: Mapped[Document] = relationship(back_populates="sections")


class SlackEvent(Base):
    """Slack event ids already handled: a retried delivery finds its id here."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class RunStatus:
    """Lifecycle of a training run. ACTIVE runs block another run in the same channel."""

    QUEUED = "queued"
    GENERATING = "generating"
    TRAINING = "training"
    EVALUATING = "evaluating"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ACTIVE = (QUEUED, GENERATING, TRAINING, EVALUATING)
    FINAL = frozenset({DONE, FAILED, CANCELLED})


_ACTIVE_SQL = "status IN ('queued', 'generating', 'training', 'evaluating')"


class TrainingRun(Base):
    __tablename__ = "training_runs"
    __table_args__ = (
        Index("ix_training_runs_channel", "team_id", "channel_id", "id"),
        # One active run per channel, enforced by the database itself.
        Index(
            "uq_training_runs_one_active",
            "team_id",
            "channel_id",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(32))
    base_model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    requested_by: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="slack")
    progress_ts: Mapped[str | None] = mapped_column(String(32))
    """The channel message updated in place with progress; results go in the same thread as it
    (its own, or the thread it was posted in: Slack threads have one level)."""
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    """Where /train was asked (a thread for @orgtune train), if not the channel itself."""
    job_id: Mapped[str | None] = mapped_column(String(64))
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_by: Mapped[str | None] = mapped_column(String(32))
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Written every RUN_HEARTBEAT_S by the work horse running it; stale means nothing is."""
    runner: Mapped[str | None] = mapped_column(String(128))
    """"host:pid" of the work horse running it."""
    results_ts: Mapped[str | None] = mapped_column(String(32))
    """The results message, once posted (a repeated finish doesn't post it again)."""
    chart_posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def is_active(self) -> bool:
        return self.status in RunStatus.ACTIVE


class Example(Base):
    """One generated training or held-out example, with its provenance."""

    __tablename__ = "examples"
    __table_args__ = (Index("ix_examples_run", "run_id", "split"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("training_runs.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    split: Mapped[str] = mapped_column(String(8))
    """'train' or 'heldout'."""
    kind: Mapped[str] = mapped_column(String(16))
    question: Mapped[str] = mapped_column(Text)
    expected: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The full example (answer, quote, section, passages, source) as training.examples.Example.to_dict()."""


class Adapter(Base):
    """A trained version of a channel's assistant."""

    __tablename__ = "adapters"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "version", name="uq_adapters_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("training_runs.id", ondelete="SET NULL"))
    model: Mapped[str] = mapped_column(String(32))
    base_model: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(500))
    """Relative to the artifact directory, so the directory can be mounted elsewhere."""
    size_bytes: Mapped[int] = mapped_column(Integer)
    trainable_params: Mapped[int] = mapped_column(Integer)
    data_hash: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    documents: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """The documents trained on: [{"id", "name", "sha256"}], so versions can say what they know."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChannelState(Base):
    """Per-channel settings: which adapter version answers."""

    __tablename__ = "channel_state"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    active_adapter_id: Mapped[int | None] = mapped_column(ForeignKey("adapters.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class QuestionStatus:
    QUEUED = "queued"
    ANSWERING = "answering"  # claimed by one answer job: a second delivery of the job does nothing
    ANSWERED = "answered"
    FAILED = "failed"
    PENDING = (QUEUED, ANSWERING)


class Question(Base):
    """A question asked in a channel, its answer, the sources used, and feedback."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_channel", "team_id", "channel_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    user: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="mention")
    """'mention', 'slash', 'cli' or 'eval'."""
    message_ts: Mapped[str | None] = mapped_column(String(32))
    """The asking message (gets the working-on-it reaction)."""
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    """Where the answer goes; empty for a slash command (answered in the channel)."""
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    """A :class:`QuestionStatus`."""
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When a worker claimed it to answer (the reconciler's clock for a lost job)."""
    answer: Mapped[str | None] = mapped_column(Text)
    generated: Mapped[str | None] = mapped_column(Text)
    """The model's raw output (empty when retrieval alone found the documents don't cover it)."""
    covered: Mapped[bool | None] = mapped_column(Boolean)
    sources: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    adapter_id: Mapped[int | None] = mapped_column(ForeignKey("adapters.id", ondelete="SET NULL"))
    adapter_version: Mapped[int | None] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(32))
    seconds: Mapped[float | None] = mapped_column(Float)
    reply_ts: Mapped[str | None] = mapped_column(String(32))
    feedback: Mapped[str | None] = mapped_column(String(16))
    feedback_by: Mapped[str | None] = mapped_column(String(32))
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
