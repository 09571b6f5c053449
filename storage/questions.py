"""Question rows: claiming one to answer, and finding those whose job may be lost."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from storage.models import Question, QuestionStatus, utcnow


def claim(session: Session, question_id: int) -> bool:
    """Take a queued question for answering, once: a second delivery of its job (RQ re-running an
    abandoned job, the reconciler re-enqueueing a lost one) finds it taken and does nothing."""
    result = session.execute(
        update(Question)
        .where(Question.id == question_id, Question.status == QuestionStatus.QUEUED)
        .values(status=QuestionStatus.ANSWERING, started_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def release(session: Session, question_id: int) -> None:
    """Put a question whose answering job was lost back in the queue."""
    session.execute(
        update(Question)
        .where(Question.id == question_id, Question.status == QuestionStatus.ANSWERING)
        .values(status=QuestionStatus.QUEUED, started_at=None)
    )


def pending(session: Session, queued_for_s: float, answering_for_s: float) -> Sequence[Question]:
    """Questions queued longer than ``queued_for_s`` or being answered longer than ``answering_for_s``."""
    now = utcnow()
    stmt = select(Question).where(
        or_(
            (Question.status == QuestionStatus.QUEUED) & (Question.created_at < now - timedelta(seconds=queued_for_s)),
            (Question.status == QuestionStatus.ANSWERING)
            & (Question.started_at < now - timedelta(seconds=answering_for_s)),
        )
    )
    return session.scalars(stmt.order_by(Question.id)).all()
