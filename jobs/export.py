"""The export job: a channel's adapter version -> an exported folder in the artifact directory -> a Slack message.

Runs on the ``train`` queue: GPU workers have the base weights an export loads, merges and checks. The folder
is ``<artifacts>/exports/<team>-<channel>/v<N>-<format>``; running the job again rebuilds it whole (the export
is deterministic) and posts again. Refusals (no adapter, a format the model can't take, weights missing) are
told to the channel by the job; an unexpected error or a timeout by :func:`on_export_failure`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Callback, Queue
from rq.job import Job

from bot.messages import escape, truncate
from jobs.runtime import Runtime, get_runtime
from orgtune import defaults
from storage import runs
from storage.channels import ChannelKey
from training.export import ExportError, ExportResult, run_export
from training.plan import human_bytes

log = logging.getLogger(__name__)

MAX_LISTED_FILES = 12
"""A merged export has a few files, an ollama one with bundled base weights a dozen; list no more in Slack."""


class NoAdapter(LookupError):
    """The channel has no such adapter version; the message says which versions exist."""


@dataclass(frozen=True)
class Version:
    """One adapter version of a channel, as an export needs it."""

    version: int
    model: str
    base_model: str
    path: Path
    """Absolute: the adapter row's path under the artifact directory."""


def find_version(rt: Runtime, key: ChannelKey, version: int | None) -> Version:
    """The channel's ``version``, or its active one when None; NoAdapter when there is none."""
    with rt.db.session() as session:
        if version is None:
            row = runs.active_adapter(session, key)
            if row is None:
                raise NoAdapter(f"Channel {key.channel_id} has no trained version yet; train one first (/train).")
        else:
            row = runs.adapter_version(session, key, version)
            if row is None:
                known = ", ".join(f"v{a.version}" for a in runs.adapters(session, key)) or "none yet"
                raise NoAdapter(f"Channel {key.channel_id} has no v{version} (its versions: {known}).")
        return Version(row.version, row.model, row.base_model, rt.config.artifacts_dir / row.path)


def export_dir(rt: Runtime, key: ChannelKey, version: int, fmt: str) -> Path:
    """Where the job writes: ids only in the path, never user-chosen names."""
    channel = _safe(f"{key.team_id}-{key.channel_id}")
    return rt.config.artifacts_dir / "exports" / channel / f"v{version}-{_safe(fmt)}"


def export_for(
    rt: Runtime, key: ChannelKey, version: int | None, fmt: str, out_dir: Path | None = None
) -> ExportResult:
    """Export the channel's ``version`` (active when None) to ``out_dir`` and check it (CLI and job share this).

    Without ``out_dir`` the export goes to :func:`export_dir`, replacing an earlier one; with it, the folder must
    be new or empty. Raises NoAdapter, ExportError, ModelUnavailable or UnknownModel for refusals.
    """
    from training.models import get_model

    v = find_version(rt, key, version)
    target = out_dir or export_dir(rt, key, v.version, fmt)
    return run_export(
        v.path,
        get_model(v.model),
        rt.config,
        fmt,
        target,
        version=v.version,
        ollama_name=f"orgtune-{key.channel_id}-v{v.version}",
        overwrite=out_dir is None,
    )


def export_job_id(key: ChannelKey, version: int | None, fmt: str, thread_ts: str | None = None) -> str:
    """One job per request: the thread (when there is one) tells two requests for the same export apart."""
    parts = [key.team_id, key.channel_id, f"v{version}" if version else "active", fmt, thread_ts or ""]
    return _safe("export-" + "-".join(p for p in parts if p))


def enqueue_export(
    connection: Redis, key: ChannelKey, version: int | None, fmt: str, thread_ts: str | None = None
) -> Job:
    """Queue :func:`export_adapter` on the train queue, with an explicit timeout and a failure hook."""
    return Queue(defaults.QUEUE_TRAIN, connection=connection).enqueue(
        "jobs.export.export_adapter",
        key.team_id,
        key.channel_id,
        version,
        fmt,
        thread_ts,
        job_id=export_job_id(key, version, fmt, thread_ts),
        job_timeout=defaults.EXPORT_JOB_TIMEOUT_S,
        result_ttl=defaults.JOB_RESULT_TTL_S,
        failure_ttl=defaults.JOB_FAILURE_TTL_S,
        on_failure=Callback("jobs.failures.on_job_failure"),  # also runs when the work horse is killed
        description=f"export {key.channel_id} {f'v{version}' if version else 'active version'} as {fmt}",
    )


def export_adapter(channel_team: str, channel_id: str, version: int | None, fmt: str, thread_ts: str | None) -> str:
    """RQ entry point: export and tell the channel. Returns "done", "check failed" or "refused"."""
    from training.models import UnknownModel
    from training.weights import ModelUnavailable

    rt, key = get_runtime(), ChannelKey(channel_team, channel_id)
    try:
        result = export_for(rt, key, version, fmt)
    except (NoAdapter, ExportError, ModelUnavailable, UnknownModel) as exc:
        _post(rt, key, thread_ts, refused_text(str(exc)))
        return "refused"
    _post(rt, key, thread_ts, result_text(result))
    return "done" if result.check.passed else "check failed"


def on_export_failure(job: Job, connection: Any, exc_type: Any = None, exc_value: Any = None, tb: Any = None) -> None:
    """RQ's failure callback (an exception or a timeout): tell the channel the export stopped."""
    from jobs.train import describe

    team, channel, version, fmt, thread_ts = job.args
    exc = exc_value if isinstance(exc_value, BaseException) else RuntimeError("the worker stopped")
    try:
        _post(get_runtime(), ChannelKey(team, channel), thread_ts, failed_text(version, fmt, describe(exc)))
    except Exception:  # the failure is already recorded by RQ; a message is best effort
        log.warning("could not tell channel %s that export job %s failed", channel, job.id, exc_info=True)


def _post(rt: Runtime, key: ChannelKey, thread_ts: str | None, text: str) -> None:
    rt.slack.chat_postMessage(
        channel=key.channel_id, thread_ts=thread_ts, text=text, unfurl_links=False, unfurl_media=False
    )


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


# --- messages (escaped: paths and model output are shown, never acted on) ------------------


def result_text(r: ExportResult) -> str:
    """What was written, whether it checked out, and how to use it."""
    head = (
        f":package: Exported *v{r.version}* of this channel's assistant ({escape(r.model)}, "
        f"`{escape(r.base_model)}`) as *{escape(r.format)}* to `{escape(str(r.out_dir))}`:"
    )
    shown = [f"• `{escape(f.path)}` — {human_bytes(f.bytes)}" for f in r.files[:MAX_LISTED_FILES]]
    if len(r.files) > MAX_LISTED_FILES:
        shown.append(f"…and {len(r.files) - MAX_LISTED_FILES} more files.")
    total = f"{len(r.files)} files, {human_bytes(r.total_bytes)} in all."
    if r.check.passed:
        check = f"Checked by loading it back: {escape(r.check.detail)}."
    else:
        check = (
            f":warning: The check by loading it back failed: {escape(r.check.detail)}. "
            "The files are kept for inspection; don't use them yet."
        )
    how = f"How to use it:\n```\n{escape(r.usage)}\n```"
    return truncate("\n".join([head, *shown, total, check, how]))


def refused_text(reason: str) -> str:
    return f":warning: Not exported. {escape(reason)}"


def failed_text(version: int | None, fmt: str, what: str) -> str:
    which = f"v{version}" if version else "the active version"
    return (
        f":x: Something went wrong on my side while exporting {which} as *{escape(fmt)}* ({escape(what)}). "
        "Please ask again; if it keeps happening, tell whoever runs orgtune."
    )
