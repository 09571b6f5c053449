"""Files shared in channels and threads become queued documents.

Slack may deliver one upload twice (a ``message`` with ``files`` and a
``file_shared`` event) and retries any event it thinks was missed. Both collapse
here: the event id is claimed once, and the document row is unique per
(team, channel, file id). The heavy work happens in the ``ingest`` job.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import reported
from bot.services import BotServices
from jobs.queues import enqueue_ingest
from storage import documents
from storage.channels import ChannelKey
from storage.documents import no_nul
from storage.events import claim_event
from storage.models import Document

log = logging.getLogger(__name__)

# Files Slack has hidden or deleted carry no content to fetch.
SKIPPED_FILE_MODES = frozenset({"tombstone", "hidden_by_limit", "external"})


def register(app: App, services: BotServices) -> None:
    @app.event("file_shared")
    def on_file_shared(body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if event.get("user_id") and event.get("user_id") == context.bot_user_id:
            return  # our own uploads (e.g. charts) are not documents
        file_id = event.get("file_id") or (event.get("file") or {}).get("id")
        channel = event.get("channel_id")
        if not (file_id and channel):
            return
        key = ChannelKey(_team(body, context), channel)
        new = documents.NewDocument(name=file_id, slack_file_id=file_id, uploader=event.get("user_id"))
        with reported(_tell_channel(client, channel, None), "receiving your file"):
            enqueue(services, claim(services, body.get("event_id"), key, [new])[1])

    @app.event("message")
    def on_message(body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        files = event.get("files") or []
        if not files or event.get("subtype") not in (None, "file_share", "thread_broadcast"):
            return  # edits, deletions, joins: nothing to ingest
        if event.get("bot_id") or event.get("user") == context.bot_user_id:
            return
        key = ChannelKey(_team(body, context), event["channel"])
        thread_ts = event.get("thread_ts") or event["ts"]
        news = [_new_document(f, event, thread_ts) for f in files if f.get("mode") not in SKIPPED_FILE_MODES]
        with reported(_tell_channel(client, event["channel"], thread_ts), "receiving your file"):
            is_new, ids = claim(services, body.get("event_id"), key, [n for n in news if n.slack_file_id])
            # Queued first: a rate-limited reaction (Retry-After) must not hold a file back behind
            # those shared after it (the first of two copies is the one kept).
            enqueue(services, ids)
            if is_new and news:
                seen(services, client, key, event, [n.slack_file_id for n in news if n.slack_file_id])


def seen(services: BotServices, client: WebClient, key: ChannelKey, event: dict[str, Any], file_ids: list[str]) -> None:
    """React :eyes: on the message until the job replies (the job takes it back). Cosmetic, so never
    fatal; and if the replies already went out while the reaction waited, take it back here."""
    channel, ts = event["channel"], event["ts"]
    try:
        client.reactions_add(channel=channel, timestamp=ts, name="eyes")
        with services.db.session() as session:
            done = documents.all_notified(session, key, file_ids)
        if done:
            client.reactions_remove(channel=channel, timestamp=ts, name="eyes")
    except SlackApiError as exc:
        log.warning("could not show :eyes: on %s: %s", ts, exc.response.get("error"))


def _new_document(file: dict[str, Any], event: dict[str, Any], thread_ts: str) -> documents.NewDocument:
    return documents.NewDocument(
        name=no_nul(file.get("name") or file.get("title") or file.get("id") or "file")[:255],
        slack_file_id=file.get("id"),
        thread_ts=thread_ts,
        message_ts=event["ts"],
        mimetype=file.get("mimetype"),
        size_bytes=file.get("size") if isinstance(file.get("size"), int) else None,
        uploader=event.get("user"),
    )


def claim(
    services: BotServices, event_id: str | None, key: ChannelKey, news: list[documents.NewDocument]
) -> tuple[bool, list[int]]:
    """Claim the event and the files: (is this event new?, ids of newly created documents).

    The rows are committed on return, so a fast worker always finds them.
    """
    with services.db.session() as session:
        if event_id and not claim_event(session, event_id):
            log.info("event %s already handled (Slack retry)", event_id)
            return False, []
        claimed = [doc for new in news if (doc := documents.claim(session, key, new)) is not None]
        return True, [doc.id for doc in claimed]


def enqueue(services: BotServices, ids: list[int]) -> None:
    """Queue one ingest job per document; if Redis refuses, remove the rows and re-raise."""
    try:
        for doc_id in ids:
            enqueue_ingest(services.redis, doc_id)
    except Exception:
        _unclaim(services, ids)
        raise


def _unclaim(services: BotServices, ids: list[int]) -> None:
    with services.db.session() as session:
        for doc_id in ids:
            doc = session.get(Document, doc_id)
            if doc is not None:
                session.delete(doc)


def _team(body: dict[str, Any], context: BoltContext) -> str:
    return str(body.get("team_id") or context.team_id or "")


def _tell_channel(client: WebClient, channel: str, thread_ts: str | None):  # type: ignore[no-untyped-def]
    def tell(text: str) -> None:
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)

    return tell
