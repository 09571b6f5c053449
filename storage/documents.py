"""Document queries. Every listing and lookup by name is scoped to a ChannelKey.

Functions take an open session and never commit: the caller owns the transaction
(see :meth:`storage.db.Database.session`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from storage.channels import ChannelKey
from storage.models import Document, DocumentStatus, Section, utcnow


@dataclass(frozen=True)
class NewDocument:
    """What is known about a document before it is downloaded and parsed."""

    name: str
    source: str = "slack"
    slack_file_id: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None
    mimetype: str | None = None
    size_bytes: int | None = None
    uploader: str | None = None


@dataclass(frozen=True)
class ParsedSection:
    heading: str
    level: int
    text: str
    words: int


def _scoped(key: ChannelKey):  # type: ignore[no-untyped-def]
    return select(Document).where(Document.team_id == key.team_id, Document.channel_id == key.channel_id)


def claim(session: Session, key: ChannelKey, new: NewDocument) -> Document | None:
    """Insert a QUEUED row, or return None when this Slack file is already known here.

    The unique constraint on (team, channel, slack_file_id) makes this the point
    where Slack's retries and the message/file_shared double delivery collapse
    into one document, even when two bot threads race.
    """
    doc = Document(team_id=key.team_id, channel_id=key.channel_id, status=DocumentStatus.QUEUED, **vars(new))
    try:
        with session.begin_nested():
            session.add(doc)
            session.flush()
    except IntegrityError:
        existing = by_slack_file(session, key, new.slack_file_id) if new.slack_file_id else None
        if existing is not None and failed_on_our_side(existing):
            _requeue(existing, new)
            return existing
        if existing is not None:
            _fill_in(existing, new)
        return None
    return doc


INTERNAL_ERROR = "internal"
"""error_code of a document refused because of us (a worker died, Slack answered 5xx or 429 past
every retry), not because of the file: sharing the file again processes it again."""


def failed_on_our_side(doc: Document) -> bool:
    return doc.status == DocumentStatus.REJECTED and doc.error_code == INTERNAL_ERROR


def _requeue(doc: Document, new: NewDocument) -> None:
    """A re-share of a file that failed for an internal reason: queue it again, replying where it was
    shared this time."""
    doc.status, doc.error_code, doc.error, doc.notified_at = DocumentStatus.QUEUED, None, None, None
    # The reply goes where it was shared this time: known from a message event; from a file_shared
    # event (no thread) it is filled in by the message event or, failing that, files.info's newest share.
    doc.thread_ts, doc.message_ts = new.thread_ts, new.message_ts


def _fill_in(existing: Document, new: NewDocument) -> None:
    """file_shared may arrive first with only an id; the message event knows more."""
    if existing.thread_ts is None and new.thread_ts:
        existing.thread_ts, existing.message_ts = new.thread_ts, new.message_ts
    if existing.name == existing.slack_file_id and new.name != new.slack_file_id:
        existing.name = new.name
    existing.mimetype = existing.mimetype or new.mimetype
    existing.size_bytes = existing.size_bytes if existing.size_bytes is not None else new.size_bytes


def by_slack_file(session: Session, key: ChannelKey, slack_file_id: str) -> Document | None:
    return session.scalars(_scoped(key).where(Document.slack_file_id == slack_file_id)).first()


def all_notified(session: Session, key: ChannelKey, slack_file_ids: list[str]) -> bool:
    """Whether every one of these Slack files has had its reply posted in this channel."""
    docs = session.scalars(_scoped(key).where(Document.slack_file_id.in_(slack_file_ids))).all()
    return bool(docs) and len(docs) == len(set(slack_file_ids)) and all(d.notified_at is not None for d in docs)


def get(session: Session, document_id: int) -> Document | None:
    """Load one document by id (jobs take ids; the row itself carries its channel)."""
    return session.get(Document, document_id)


def ready(session: Session, key: ChannelKey) -> Sequence[Document]:
    """The channel's usable documents with their sections (one query for all of them), oldest first."""
    return session.scalars(
        _scoped(key)
        .where(Document.status == DocumentStatus.READY)
        .order_by(Document.created_at, Document.id)
        .options(selectinload(Document.sections))
    ).all()


def ready_fingerprint(session: Session, key: ChannelKey) -> tuple[tuple[int, str], ...]:
    """(id, content hash) of the channel's usable documents, oldest first: it changes whenever what answers
    draw on does (a document added, forgotten or replaced), and costs no document text to read."""
    rows = session.execute(
        select(Document.id, Document.sha256)
        .where(
            Document.team_id == key.team_id,
            Document.channel_id == key.channel_id,
            Document.status == DocumentStatus.READY,
        )
        .order_by(Document.created_at, Document.id)
    ).all()
    return tuple((doc_id, sha or "") for doc_id, sha in rows)


def count_ready(session: Session, key: ChannelKey) -> int:
    stmt = select(func.count(Document.id)).where(
        Document.team_id == key.team_id,
        Document.channel_id == key.channel_id,
        Document.status == DocumentStatus.READY,
    )
    return int(session.scalar(stmt) or 0)


def section_counts(session: Session, document_ids: Sequence[int]) -> dict[int, int]:
    if not document_ids:
        return {}
    rows = session.execute(
        select(Section.document_id, func.count(Section.id))
        .where(Section.document_id.in_(document_ids))
        .group_by(Section.document_id)
    ).all()
    return {doc_id: int(n) for doc_id, n in rows}


def find_by_name(session: Session, key: ChannelKey, name: str) -> list[Document]:
    """Ready documents matching ``name``: exact (case-insensitive) first, else by prefix."""
    wanted = name.strip().strip("*`'\"").lower()
    docs = list(ready(session, key))
    exact = [d for d in docs if d.name.lower() == wanted]
    if exact:
        return exact
    return [d for d in docs if d.name.lower().startswith(wanted)] if wanted else []


def duplicate_of(session: Session, doc: Document) -> Document | None:
    """Another ready document in the same channel with the same content, if any."""
    stmt = _scoped(ChannelKey(doc.team_id, doc.channel_id)).where(
        Document.sha256 == doc.sha256, Document.status == DocumentStatus.READY, Document.id != doc.id
    )
    return session.scalars(stmt.order_by(Document.id)).first()


def mark_ready(
    session: Session,
    doc: Document,
    *,
    kind: str,
    title: str | None,
    pages: int | None,
    sections: Sequence[ParsedSection],
) -> None:
    """Store the parsed sections and mark the document READY, all in the caller's transaction."""
    session.execute(delete(Section).where(Section.document_id == doc.id))
    for position, sec in enumerate(sections):
        session.add(
            Section(
                document_id=doc.id,
                position=position,
                heading=sec.heading[:500],
                level=sec.level,
                text=sec.text,
                words=sec.words,
            )
        )
    doc.kind, doc.title, doc.pages = kind, (title or None) and title[:255], pages
    doc.words = sum(s.words for s in sections)
    doc.status, doc.error_code, doc.error = DocumentStatus.READY, None, None


def mark_rejected(session: Session, doc: Document, code: str, message: str) -> None:
    """Record why a document was refused; a rejected document never keeps sections."""
    session.execute(delete(Section).where(Section.document_id == doc.id))
    doc.status, doc.error_code, doc.error = DocumentStatus.REJECTED, code, message


def mark_duplicate(session: Session, doc: Document, original: Document) -> None:
    doc.status, doc.duplicate_of_id = DocumentStatus.DUPLICATE, original.id


def mark_notified(doc: Document) -> None:
    doc.notified_at = utcnow()


def forget(session: Session, doc: Document) -> None:
    """Delete a document and its sections (duplicates of it are forgotten too)."""
    for dup in session.scalars(select(Document).where(Document.duplicate_of_id == doc.id)).all():
        session.delete(dup)
    session.delete(doc)


def no_nul(text: str) -> str:
    """PostgreSQL text can't hold NUL characters (SQLite can); names and questions from Slack might."""
    return text.replace("\x00", "")


def unannounced(session: Session, older_than_s: float) -> Sequence[Document]:
    """Slack documents in a final state whose reply was never posted (its job died in between)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    stmt = select(Document).where(
        Document.status.in_(DocumentStatus.FINAL),
        Document.source == "slack",
        Document.notified_at.is_(None),
        Document.created_at < cutoff,
    )
    return session.scalars(stmt.order_by(Document.id)).all()


def with_status(session: Session, statuses: Sequence[str], older_than_s: float) -> Sequence[Document]:
    """Documents of any channel in ``statuses`` created more than ``older_than_s`` seconds ago."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    stmt = select(Document).where(Document.status.in_(statuses), Document.created_at < cutoff)
    return session.scalars(stmt.order_by(Document.id)).all()


def count_status(session: Session, key: ChannelKey, statuses: Sequence[str]) -> int:
    stmt = select(func.count(Document.id)).where(
        Document.team_id == key.team_id, Document.channel_id == key.channel_id, Document.status.in_(statuses)
    )
    return int(session.scalar(stmt) or 0)


def create(session: Session, key: ChannelKey, new: NewDocument) -> Document:
    """Insert a QUEUED row for a document that has no Slack file (the command line)."""
    doc = Document(team_id=key.team_id, channel_id=key.channel_id, status=DocumentStatus.QUEUED, **vars(new))
    session.add(doc)
    session.flush()
    return doc


def teams_for_channel(session: Session, channel_id: str) -> list[str]:
    """Workspaces that have documents in a channel with this id (for command-line defaults)."""
    stmt = select(Document.team_id).where(Document.channel_id == channel_id).distinct()
    return list(session.scalars(stmt).all())
