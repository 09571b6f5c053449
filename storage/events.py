"""Idempotency for Slack deliveries: each event id takes effect once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orgtune import defaults
from storage.models import SlackEvent, utcnow


def claim_event(session: Session, event_id: str) -> bool:
    """Record ``event_id``; False when it was already recorded (a Slack retry)."""
    try:
        with session.begin_nested():
            session.add(SlackEvent(event_id=event_id))
            session.flush()
    except IntegrityError:
        return False
    return True


def prune_events(session: Session, older_than_s: float = defaults.EVENT_DEDUP_TTL_S) -> int:
    """Forget event ids older than Slack could still retry; returns how many."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    result = session.execute(delete(SlackEvent).where(SlackEvent.received_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
