"""When work started (documents, questions) and when a run last showed signs of life.

The reconciler tells a job Redis lost from one still running by these times: a
document processing longer than its job may run, a question being answered
longer than its job may run, or a run whose work horse stopped writing its
heartbeat, has no live job behind it. ``runner`` ("host:pid" of the work horse)
lets a reconciler on the same host see at once that the process is gone.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("training_runs") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("runner", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_runs") as batch:
        batch.drop_column("runner")
        batch.drop_column("heartbeat_at")
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("started_at")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("started_at")
