"""Training runs record each results post, so a repeated finish never posts twice.

The results text and the loss-curve picture are two Web API calls; a failure
between them (a 429 past its retries, a network error) re-runs the finish. With
the results message's ts and the chart's upload time on the row, the repeat
skips what was already posted.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_runs") as batch:
        batch.add_column(sa.Column("results_ts", sa.String(32), nullable=True))
        batch.add_column(sa.Column("chart_posted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_runs") as batch:
        batch.drop_column("chart_posted_at")
        batch.drop_column("results_ts")
