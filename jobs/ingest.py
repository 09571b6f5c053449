"""The ingest job: Slack file -> downloaded bytes -> sandboxed parse -> sections -> reply.

Safe to run twice: a document already in a final state is not processed again,
and its reply is posted only if it was not posted before.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import messages
from jobs.download import DownloadError, Expected, download, too_large
from jobs.runtime import Runtime, get_runtime
from orgtune import defaults
from parsing import ParsedDocument, RejectedFile, parse_in_sandbox
from storage import documents
from storage.artifacts import Artifacts, ArtifactWriteError
from storage.channels import ChannelKey
from storage.db import Database
from storage.documents import no_nul
from storage.models import Document, DocumentStatus, utcnow

log = logging.getLogger(__name__)

INTERNAL = documents.INTERNAL_ERROR


@dataclass(frozen=True)
class Outcome:
    """What happened to one document, for replies and the command line."""

    document_id: int
    status: str
    text: str

    @property
    def ok(self) -> bool:
        """True unless the file was refused (a duplicate is not an error)."""
        return self.status in (DocumentStatus.READY, DocumentStatus.DUPLICATE)


def ingest_document(document_id: int) -> str:
    """RQ entry point. Returns the document's final status."""
    rt = get_runtime()
    with rt.db.session() as session:
        doc = documents.get(session, document_id)
        if doc is None:
            return "forgotten"
        if doc.status in DocumentStatus.FINAL:
            log.info("document %s already %s; not processing again", document_id, doc.status)
        else:
            doc.status, doc.started_at = DocumentStatus.PROCESSING, utcnow()
    if doc.status not in DocumentStatus.FINAL:
        try:
            _fetch_and_ingest(rt, document_id)
        except Exception as exc:
            log.exception("ingesting document %s failed", document_id)
            fail_document(rt, document_id, describe(exc))
            raise
    return notify(rt, document_id).status


def _fetch_and_ingest(rt: Runtime, document_id: int) -> None:
    """Slack calls, the download and the parse run outside any transaction: on SQLite one open
    write transaction locks out every other writer (the bot's claims, progress, questions)."""
    with rt.db.session() as session:
        file_id = _must_get(session, document_id).slack_file_id
    if not file_id:
        raise RuntimeError(f"document {document_id} has no Slack file to fetch")
    info: dict[str, Any] = rt.slack.files_info(file=file_id)["file"]
    with rt.db.session() as session:
        doc = _must_get(session, document_id)
        _apply_file_info(doc, info)
    try:
        data = _download(rt, doc, info)
    except RejectedFile as rejected:
        with rt.db.session() as session:
            documents.mark_rejected(session, _must_get(session, document_id), rejected.code, explain(rejected))
        return
    store_bytes(rt.db, rt.artifacts, document_id, data)


def _apply_file_info(doc: Document, info: dict[str, Any]) -> None:
    """Authoritative metadata from files.info: name, size and the reply thread."""
    doc.name = no_nul(info.get("name") or info.get("title") or doc.name)[:255]
    doc.mimetype = info.get("mimetype") or doc.mimetype
    doc.size_bytes = info.get("size", doc.size_bytes)
    if doc.thread_ts is None:
        doc.thread_ts, doc.message_ts = _share_location(info, doc.channel_id)


def _share_location(info: dict[str, Any], channel_id: str) -> tuple[str | None, str | None]:
    """(thread to reply in, message ts) for the file's newest share in ``channel_id``."""
    shares = info.get("shares") or {}
    found = [s for visibility in ("public", "private") for s in (shares.get(visibility) or {}).get(channel_id, [])]
    if not found:
        return None, None
    newest = max(found, key=lambda share: float(share.get("ts") or 0))
    return newest.get("thread_ts") or newest.get("ts"), newest.get("ts")


def _download(rt: Runtime, doc: Document, info: dict[str, Any]) -> bytes:
    size = info.get("size")
    if isinstance(size, int) and size > defaults.MAX_FILE_BYTES:
        # Slack's metadata is enough to refuse: never download an oversized file.
        raise too_large(doc.name, size, defaults.MAX_FILE_BYTES)
    if size == 0:
        raise RejectedFile(f"{doc.name} is empty (0 bytes).", "Check the file and upload it again.", code="empty")
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        raise DownloadError("Slack did not give a download address for this file.")
    assert rt.config.slack_bot_token
    # What files.info says the file is, so Slack's HTML sign-in page (a bad token) isn't taken for it.
    expected = Expected(info.get("mimetype"), info.get("filetype"), size if isinstance(size, int) else None)
    return download(
        url,
        rt.config.slack_bot_token,
        rt.config.slack_token_hosts,
        filename=doc.name,
        tokenless_hosts=rt.config.slack_tokenless_hosts,
        expected=expected,
    )


def store_bytes(db: Database, artifacts: Artifacts, document_id: int, data: bytes) -> None:
    """Hash, de-duplicate, parse within limits and store; the document ends in a final state.

    The parse (up to a minute in the sandbox) happens between two short transactions,
    never inside one. Nothing is half-stored: the sections and the READY status are
    written together, after checking again for a copy that became ready meanwhile.
    """
    with db.session() as session:
        doc = _must_get(session, document_id)
        doc.size_bytes, doc.sha256 = len(data), hashlib.sha256(data).hexdigest()
        original = documents.duplicate_of(session, doc)
        if original is not None:
            documents.mark_duplicate(session, doc, original)
            return
    parsed = parse(data, doc.name)
    with db.session() as session:
        record(session, artifacts, _must_get(session, document_id), data, parsed)


def parse(data: bytes, name: str) -> ParsedDocument | RejectedFile:
    """The sandboxed parse, holding no database transaction; a refusal is returned, not raised."""
    try:
        return parse_in_sandbox(data, name)
    except RejectedFile as rejected:
        return rejected


def record(
    session: Any, artifacts: Artifacts, doc: Document, data: bytes, parsed: ParsedDocument | RejectedFile
) -> None:
    """Write a parse's outcome in the caller's (short) transaction: duplicate, refused or ready."""
    doc.size_bytes, doc.sha256 = len(data), hashlib.sha256(data).hexdigest()
    original = documents.duplicate_of(session, doc)
    if original is not None:
        documents.mark_duplicate(session, doc, original)
    elif isinstance(parsed, RejectedFile):
        documents.mark_rejected(session, doc, parsed.code, explain(parsed))
    else:
        documents.mark_ready(
            session, doc, kind=parsed.kind, title=parsed.title, pages=parsed.pages, sections=_sections(parsed)
        )
        artifacts.save_document(ChannelKey(doc.team_id, doc.channel_id), doc.id, data)


def _sections(parsed: ParsedDocument) -> list[documents.ParsedSection]:
    return [documents.ParsedSection(s.heading, s.level, s.text, s.words) for s in parsed.sections]


def explain(rejected: RejectedFile) -> str:
    return f"{rejected.reason} {rejected.hint}".strip()


def describe(exc: BaseException) -> str:
    """A user-safe one-liner for an unexpected failure (never a token or a traceback)."""
    from jobs.failures import WorkHorseKilled

    if isinstance(exc, (DownloadError, WorkHorseKilled, ArtifactWriteError)):
        return str(exc)
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error") if exc.response is not None else None
        if error == "file_not_found":
            return "the file is no longer available in Slack — was it deleted?"
        return f"Slack answered `{error or 'an error'}`"
    name = type(exc).__name__
    if name == "AbandonedJobError":
        return "the worker processing it stopped"
    if "Timeout" in name:
        return "it took longer than the time allowed"
    return f"{name}"


def fail_document(rt: Runtime, document_id: int, what: str) -> None:
    """Mark a non-final document rejected because of an internal failure, then tell the channel.

    Called from the job itself, from RQ's failure callback and when a work horse
    dies; whichever comes first wins and the others change nothing.
    """
    with rt.db.session() as session:
        doc = documents.get(session, document_id)
        if doc is None or doc.status in DocumentStatus.FINAL:
            pass
        else:
            documents.mark_rejected(session, doc, INTERNAL, what)
    notify(rt, document_id)


def reply_text(session: Any, doc: Document) -> str:
    key = ChannelKey(doc.team_id, doc.channel_id)
    known = documents.count_ready(session, key)
    if doc.status == DocumentStatus.READY:
        sections = documents.section_counts(session, [doc.id]).get(doc.id, 0)
        summary = messages.DocSummary(doc.name, doc.kind, doc.pages, doc.words or 0, sections)
        return messages.added(summary, known)
    if doc.status == DocumentStatus.DUPLICATE:
        original = documents.get(session, doc.duplicate_of_id) if doc.duplicate_of_id else None
        return messages.duplicate(doc.name, original.name if original else "another document", known)
    if doc.error_code == INTERNAL:
        return messages.internal_error(doc.name, doc.error or "unknown error")
    return messages.rejected(doc.error or f"{doc.name} could not be read.")


def notify(rt: Runtime, document_id: int) -> Outcome:
    """Post the document's outcome in its thread, once (no-op if already posted)."""
    with rt.db.session() as session:
        doc = documents.get(session, document_id)
        if doc is None:
            return Outcome(document_id, "forgotten", "")
        text = reply_text(session, doc)
        outcome = Outcome(doc.id, doc.status, text)
        due = doc.notified_at is None and doc.source == "slack" and doc.status in DocumentStatus.FINAL
        channel, thread_ts, message_ts = doc.channel_id, doc.thread_ts, doc.message_ts
    if due:
        rt.slack.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=text, unfurl_links=False, unfurl_media=False
        )
        # On record as soon as Slack accepts it, before anything else can fail or be killed: the chaos soak
        # found a reply posted twice by a worker killed while removing the reaction (retried under 429s).
        with rt.db.session() as session:
            posted = documents.get(session, document_id)
            if posted is not None:
                documents.mark_notified(posted)
        if message_ts:
            _remove_eyes(rt, channel, message_ts)
    return outcome


def _remove_eyes(rt: Runtime, channel: str, message_ts: str) -> None:
    try:
        rt.slack.reactions_remove(channel=channel, timestamp=message_ts, name="eyes")
    except Exception:  # the reaction is cosmetic; the reply already went out
        log.warning("could not remove the :eyes: reaction from %s", message_ts, exc_info=True)


def ingest_local_file(rt: Runtime, key: ChannelKey, path: Path, uploader: str | None = None) -> Outcome:
    """The command-line path: the same checks, parse and storage as a Slack upload.

    Only READY documents are kept; a refused or duplicate file leaves no row behind.
    """
    try:
        data = _read_local(path)
        parsed: ParsedDocument | RejectedFile = parse(data, path.name)
    except RejectedFile as rejected:
        data, parsed = b"", rejected
    with rt.db.session() as session:  # opened after the parse: no write lock held while parsing
        doc = documents.create(
            session, key, documents.NewDocument(name=path.name[:255], source="cli", uploader=uploader)
        )
        record(session, rt.artifacts, doc, data, parsed)
        outcome = Outcome(doc.id, doc.status, reply_text(session, doc))
        if doc.status != DocumentStatus.READY:
            session.delete(doc)
    return outcome


def _read_local(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > defaults.MAX_FILE_BYTES:
            raise too_large(path.name, size, defaults.MAX_FILE_BYTES)
        return path.read_bytes()
    except OSError as exc:
        raise RejectedFile(f"{path} can't be read ({exc.strerror or exc}).", code="unreadable") from None


def _must_get(session: Any, document_id: int) -> Document:
    doc = documents.get(session, document_id)
    if doc is None:
        raise LookupError(f"document {document_id} disappeared while processing")
    return doc
