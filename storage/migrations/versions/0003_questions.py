"""Questions, answers, sources and feedback.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("user", sa.String(32)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("thread_ts", sa.String(32)),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text()),
        sa.Column("generated", sa.Text()),
        sa.Column("covered", sa.Boolean()),
        sa.Column("sources", sa.JSON()),
        sa.Column("adapter_id", sa.Integer(), sa.ForeignKey("adapters.id", ondelete="SET NULL")),
        sa.Column("adapter_version", sa.Integer()),
        sa.Column("model", sa.String(32)),
        sa.Column("seconds", sa.Float()),
        sa.Column("reply_ts", sa.String(32)),
        sa.Column("feedback", sa.String(16)),
        sa.Column("feedback_by", sa.String(32)),
        sa.Column("feedback_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_questions_channel", "questions", ["team_id", "channel_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_questions_channel", "questions")
    op.drop_table("questions")
