"""``/orgtune adapters``, ``use <version>`` and ``export <format>``: the channel's assistant versions.

The texts are built here for Slack and the command line alike; switching takes
effect for the next question, since answering reads the active version each time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot import messages
from storage import runs
from storage.channels import ChannelKey
from storage.db import Database
from storage.models import Adapter

if TYPE_CHECKING:
    from bot.listeners.commands import Ctx


def adapters_(c: Ctx) -> None:
    c.respond(text=adapters_text(c.services.db, c.key), response_type="ephemeral")


def use_(c: Ctx) -> None:
    text, ok = use_text(c.services.db, c.key, c.arg, c.user)
    c.respond(text=text, response_type="in_channel" if ok else "ephemeral")


def adapters_text(db: Database, key: ChannelKey) -> str:
    with db.session() as session:
        versions = list(runs.adapters(session, key))
        active = runs.active_adapter(session, key)
        if not versions:
            return "This channel has no trained assistant yet: `/train smollm2` makes v1."
        lines = ["*Versions of this channel's assistant* (▶ answers now)"]
        lines += [version_line(a, active is not None and a.id == active.id) for a in reversed(versions)]
    lines.append("Switch with `/orgtune use v<N>`; `/orgtune export ollama` takes one outside Slack.")
    return "\n".join(lines)


def version_line(a: Adapter, active: bool) -> str:
    docs = [d["name"] for d in a.documents or []]
    shown = ", ".join(messages.escape(n) for n in docs[:3]) + (f", +{len(docs) - 3} more" if len(docs) > 3 else "")
    parts = [f"*v{a.version}*", f"`{a.model}`", f"{a.created_at:%Y-%m-%d %H:%M} UTC"]
    parts.append(f"{messages.plural(len(docs), 'document')} ({shown})" if docs else "documents not recorded")
    m = a.metrics or {}
    if "accuracy_after" in m:
        parts.append(f"held-out {m['accuracy_before']:.0%} → {m['accuracy_after']:.0%}")
    return ("▶ " if active else "    ") + " · ".join(parts)


def use_text(db: Database, key: ChannelKey, arg: str, user: str | None) -> tuple[str, bool]:
    """Make version ``arg`` ('v2' or '2') the one that answers; (message, switched)."""
    version = runs.parse_version(arg) if arg else None
    with db.session() as session:
        known = [a.version for a in runs.adapters(session, key)]
        if version is None or version not in known:
            listed = ", ".join(f"v{v}" for v in known) or "none yet"
            usage = "Usage: `/orgtune use v<N>`." if version is None else f"There is no v{version}."
            return f"{usage} This channel's versions: {listed}.", False
        adapter = runs.adapter_version(session, key, version)
        assert adapter is not None
        current = runs.active_adapter(session, key)
        if current is not None and current.id == adapter.id:
            return f"v{version} already answers in this channel.", False
        runs.activate(session, key, adapter)
        who = f"<@{user}> switched" if user else "Switched"
        return (
            f"{who} this channel's assistant to *v{version}* (`{adapter.model}`, trained "
            f"{adapter.created_at:%Y-%m-%d}). Questions from now on are answered by it.",
            True,
        )


def export_(c: Ctx) -> None:
    text, queued = export_text(c.services.db, c.key, c.arg, c.user, lambda v, fmt: _enqueue(c, v, fmt))
    c.respond(text=text, response_type="in_channel" if queued else "ephemeral")


def _enqueue(c: Ctx, version: int | None, fmt: str) -> None:
    from jobs.export import enqueue_export

    enqueue_export(c.services.redis, c.key, version, fmt)


def export_text(
    db: Database, key: ChannelKey, arg: str, user: str | None, enqueue: Callable[[int | None, str], None]
) -> tuple[str, bool]:
    """Check ``/orgtune export <format> [v<N>]`` and queue it; (message, queued)."""
    from training.export import FORMATS, ExportError, ensure_exportable
    from training.models import get_model

    words = arg.lower().split()
    fmt = words[0] if words else ""
    version = runs.parse_version(words[1]) if len(words) > 1 else None
    if fmt not in FORMATS or (len(words) > 1 and version is None) or len(words) > 2:
        return f"Usage: `/orgtune export {'|'.join(FORMATS)} [v<N>]` (default: the version answering now).", False
    with db.session() as session:
        adapter = runs.adapter_version(session, key, version) if version else runs.active_adapter(session, key)
        if adapter is None:
            known = ", ".join(f"v{a.version}" for a in runs.adapters(session, key)) or "none yet"
            return f"Nothing to export: no {'v' + str(version) if version else 'trained version'} ({known}).", False
        number, model = adapter.version, adapter.model
    try:
        ensure_exportable(get_model(model), fmt)
    except ExportError as exc:
        return messages.escape(str(exc).replace("`--format merged`", "`/orgtune export merged`")), False
    enqueue(version or number, fmt)
    who = f"<@{user}> asked for" if user else "Queued"
    return (
        f"{who} an export of *v{number}* (`{model}`) as `{fmt}`. A training worker writes it and checks it "
        "by loading it back; I'll post where it is and how to use it here.",
        True,
    )
