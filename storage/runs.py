"""Training runs, examples and adapter versions, scoped to a channel.

Functions take an open session and never commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.channels import ChannelKey
from storage.models import Adapter, ChannelState, Example, RunStatus, TrainingRun, utcnow


def active_run(session: Session, key: ChannelKey) -> TrainingRun | None:
    stmt = select(TrainingRun).where(
        TrainingRun.team_id == key.team_id,
        TrainingRun.channel_id == key.channel_id,
        TrainingRun.status.in_(RunStatus.ACTIVE),
    )
    return session.scalars(stmt).first()


def create_run(
    session: Session,
    key: ChannelKey,
    *,
    model: str,
    base_model: str,
    requested_by: str | None,
    source: str = "slack",
    thread_ts: str | None = None,
    plan: dict[str, Any] | None = None,
) -> TrainingRun | None:
    """Insert a QUEUED run, or return None when the channel already has an active one.

    The partial unique index makes this safe against two /train commands racing.
    """
    run = TrainingRun(
        team_id=key.team_id,
        channel_id=key.channel_id,
        model=model,
        base_model=base_model,
        requested_by=requested_by,
        source=source,
        thread_ts=thread_ts,
        plan=plan,
        status=RunStatus.QUEUED,
        cancel_requested=False,
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    return run


def get(session: Session, run_id: int) -> TrainingRun | None:
    return session.get(TrainingRun, run_id)


def recent(session: Session, key: ChannelKey, limit: int = 10) -> Sequence[TrainingRun]:
    stmt = (
        select(TrainingRun)
        .where(TrainingRun.team_id == key.team_id, TrainingRun.channel_id == key.channel_id)
        .order_by(TrainingRun.id.desc())
        .limit(limit)
    )
    return session.scalars(stmt).all()


def set_status(run: TrainingRun, status: str, *, error: str | None = None) -> None:
    run.status = status
    if status in RunStatus.FINAL:
        run.finished_at = utcnow()
    elif run.started_at is None and status != RunStatus.QUEUED:
        run.started_at = utcnow()
    if error is not None:
        run.error = error


def request_cancel(session: Session, run: TrainingRun, user: str | None) -> bool:
    """Flag an active run for cancellation; False if it already ended."""
    if not run.is_active:
        return False
    run.cancel_requested, run.cancelled_by = True, user
    return True


def cancel_requested(session: Session, run_id: int) -> bool:
    """A fresh read of the flag (the training loop polls this once per optimizer step)."""
    return bool(session.scalar(select(TrainingRun.cancel_requested).where(TrainingRun.id == run_id)))


def save_examples(session: Session, run: TrainingRun, rows: Iterable[tuple[str, dict[str, Any], str | None]]) -> int:
    """Store (split, example dict, document sha256) rows for a run; returns how many."""
    session.query(Example).filter(Example.run_id == run.id).delete()
    n = 0
    for split, data, sha in rows:
        session.add(
            Example(
                run_id=run.id,
                team_id=run.team_id,
                channel_id=run.channel_id,
                document_id=data.get("document_id"),
                document_sha256=sha,
                split=split,
                kind=data["kind"],
                question=data["question"],
                expected=data.get("expected"),
                data=data,
            )
        )
        n += 1
    return n


def examples(session: Session, run_id: int, split: str | None = None) -> Sequence[Example]:
    stmt = select(Example).where(Example.run_id == run_id)
    if split:
        stmt = stmt.where(Example.split == split)
    return session.scalars(stmt.order_by(Example.id)).all()


def add_adapter(session: Session, run: TrainingRun, **fields: Any) -> Adapter:
    """Record a new version (v1, v2, ...) of the channel's assistant from a finished run."""
    latest = session.scalar(
        select(func.max(Adapter.version)).where(Adapter.team_id == run.team_id, Adapter.channel_id == run.channel_id)
    )
    adapter = Adapter(
        team_id=run.team_id, channel_id=run.channel_id, version=(latest or 0) + 1, run_id=run.id, **fields
    )
    session.add(adapter)
    session.flush()
    return adapter


def activate(session: Session, key: ChannelKey, adapter: Adapter) -> None:
    state = session.get(ChannelState, (key.team_id, key.channel_id))
    if state is None:
        state = ChannelState(team_id=key.team_id, channel_id=key.channel_id)
        session.add(state)
    state.active_adapter_id = adapter.id


def active_adapter(session: Session, key: ChannelKey) -> Adapter | None:
    state = session.get(ChannelState, (key.team_id, key.channel_id))
    if state is None or state.active_adapter_id is None:
        return None
    return session.get(Adapter, state.active_adapter_id)


def adapter_version(session: Session, key: ChannelKey, version: int) -> Adapter | None:
    stmt = select(Adapter).where(
        Adapter.team_id == key.team_id, Adapter.channel_id == key.channel_id, Adapter.version == version
    )
    return session.scalars(stmt).first()


def parse_version(text: str) -> int | None:
    """'v2', 'V2' or '2' -> 2; anything else -> None."""
    text = text.strip().lower().removeprefix("v")
    return int(text) if text.isdigit() and int(text) > 0 else None


def adapter_for_run(session: Session, run_id: int) -> Adapter | None:
    return session.scalars(select(Adapter).where(Adapter.run_id == run_id)).first()


def latest_done(session: Session, key: ChannelKey, model: str) -> TrainingRun | None:
    """The channel's most recent successful run of ``model`` (whose examples a retrain may reuse)."""
    stmt = select(TrainingRun).where(
        TrainingRun.team_id == key.team_id,
        TrainingRun.channel_id == key.channel_id,
        TrainingRun.model == model,
        TrainingRun.status == RunStatus.DONE,
    )
    return session.scalars(stmt.order_by(TrainingRun.id.desc())).first()


def adapters(session: Session, key: ChannelKey) -> Sequence[Adapter]:
    stmt = select(Adapter).where(Adapter.team_id == key.team_id, Adapter.channel_id == key.channel_id)
    return session.scalars(stmt.order_by(Adapter.version)).all()


def touch(session: Session, run_id: int, runner: str) -> None:
    """The run's work horse ``runner`` ("host:pid") is alive (see jobs.train.heartbeat)."""
    session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(heartbeat_at=utcnow(), runner=runner))


def unannounced(session: Session) -> Sequence[TrainingRun]:
    """Runs in a final state whose last message (results, failure) was never posted."""
    stmt = select(TrainingRun).where(TrainingRun.status.in_(RunStatus.FINAL), TrainingRun.notified_at.is_(None))
    return session.scalars(stmt.order_by(TrainingRun.id)).all()
