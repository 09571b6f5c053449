"""``/orgtune`` subcommands: docs, forget, runs, status, cancel, adapters, use, help.

Each subcommand acks at once (with no text) and answers through ``respond``,
which posts to the command's response_url; nothing here does heavy work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import messages, run_messages
from bot.errors import reported
from bot.services import BotServices
from bot.slack_text import plain_text
from storage import documents, runs
from storage.artifacts import Artifacts
from storage.channels import ChannelKey
from storage.db import Database
from storage.models import DocumentStatus


@dataclass(frozen=True)
class Ctx:
    """One /orgtune invocation."""

    services: BotServices
    key: ChannelKey
    arg: str
    respond: Respond
    user: str
    client: WebClient


Handler = Callable[[Ctx], None]


def register(app: App, services: BotServices) -> None:
    @app.command("/orgtune")
    def orgtune(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        sub, _, rest = plain_text(command.get("text") or "").partition(" ")
        key = ChannelKey(command["team_id"], command["channel_id"])
        handler = SUBCOMMANDS.get(sub.lower())
        with reported(lambda text: respond(text=text, response_type="ephemeral"), f"running /orgtune {sub}"):
            if handler is None:
                respond(text=messages.unknown_command(sub) if sub else messages.help_text())
            else:
                handler(Ctx(services, key, rest.strip(), respond, command.get("user_id", ""), client))


def docs(c: Ctx) -> None:
    c.respond(text=docs_text(c.services.db, c.key), response_type="ephemeral")


def docs_text(db: Database, key: ChannelKey) -> str:
    """The channel's document list (shared by Slack and the command line)."""
    with db.session() as session:
        ready = documents.ready(session, key)
        counts = documents.section_counts(session, [d.id for d in ready])
        summaries = [
            messages.DocSummary(d.name, d.kind, d.pages, d.words or 0, counts.get(d.id, 0), d.uploader) for d in ready
        ]
        pending = documents.count_status(session, key, (DocumentStatus.QUEUED, DocumentStatus.PROCESSING))
    return messages.doc_list(summaries, pending)


def forget(c: Ctx) -> None:
    if not c.arg:
        c.respond(text="Which document? Usage: `/orgtune forget <name>` (see `/orgtune docs`).")
        return
    text, response_type = forget_text(c.services.db, c.services.artifacts, c.key, c.arg)
    c.respond(text=text, response_type=response_type)


def forget_text(db: Database, artifacts: Artifacts, key: ChannelKey, name: str) -> tuple[str, str]:
    """Forget one document by name; the confirmation is shown to the whole channel."""
    with db.session() as session:
        matches = documents.find_by_name(session, key, name)
        if not matches:
            return messages.forget_no_match(name), "ephemeral"
        if len(matches) > 1:
            return messages.forget_ambiguous(name, [d.name for d in matches]), "ephemeral"
        doc = matches[0]
        doc_id, doc_name = doc.id, doc.name
        documents.forget(session, doc)
        session.flush()
        known = documents.count_ready(session, key)
    artifacts.delete_document(key, doc_id)
    return messages.forgot(doc_name, known), "in_channel"


def help_(c: Ctx) -> None:
    c.respond(text=messages.help_text(), response_type="ephemeral")


def runs_(c: Ctx) -> None:
    c.respond(text=runs_text(c.services.db, c.key), response_type="ephemeral")


def runs_text(db: Database, key: ChannelKey) -> str:
    with db.session() as session:
        return run_messages.runs_list(list(runs.recent(session, key)))


def status(c: Ctx) -> None:
    c.respond(text=status_text(c.services.db, c.key), response_type="ephemeral")


def status_text(db: Database, key: ChannelKey) -> str:
    with db.session() as session:
        known = documents.count_ready(session, key)
        adapter = runs.active_adapter(session, key)
        active = runs.active_run(session, key)
        lines = [f"This channel knows {messages.plural(known, 'document')}."]
        if adapter is None:
            lines.append("No trained assistant yet: `/train smollm2` makes one.")
        else:
            lines.append(
                f"Answering with `{adapter.model}` v{adapter.version} (trained {adapter.created_at:%Y-%m-%d})."
            )
        if active is not None:
            lines.append(run_messages.already_running(active).split(". One run")[0] + ".")
    return "\n".join(lines)


def cancel_(c: Ctx) -> None:
    from bot.listeners.training import cancel

    c.respond(text=cancel(c.services, c.client, c.key, c.user), response_type="ephemeral")


from bot.listeners.versions import adapters_, export_, use_  # noqa: E402  (they take the Ctx defined above)

SUBCOMMANDS: dict[str, Handler] = {
    "docs": docs,
    "forget": forget,
    "help": help_,
    "runs": runs_,
    "status": status,
    "cancel": cancel_,
    "adapters": adapters_,
    "versions": adapters_,
    "use": use_,
    "export": export_,
}
