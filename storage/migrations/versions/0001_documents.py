"""Documents, their sections, and handled Slack event ids.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("slack_file_id", sa.String(32)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("mimetype", sa.String(128)),
        sa.Column("kind", sa.String(16)),
        sa.Column("size_bytes", sa.Integer()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("title", sa.String(255)),
        sa.Column("pages", sa.Integer()),
        sa.Column("words", sa.Integer()),
        sa.Column("uploader", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error", sa.Text()),
        sa.Column("duplicate_of_id", sa.Integer(), sa.ForeignKey("documents.id", ondelete="SET NULL")),
        sa.Column("notified_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("team_id", "channel_id", "slack_file_id", name="uq_documents_channel_file"),
    )
    op.create_index("ix_documents_channel", "documents", ["team_id", "channel_id", "status"])
    op.create_index("ix_documents_channel_sha", "documents", ["team_id", "channel_id", "sha256"])
    op.create_table(
        "sections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("heading", sa.String(500), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", sa.Integer(), nullable=False),
        sa.UniqueConstraint("document_id", "position", name="uq_sections_position"),
    )
    op.create_index("ix_sections_document_id", "sections", ["document_id"])
    op.create_table(
        "slack_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_events_received_at", "slack_events", ["received_at"])


def downgrade() -> None:
    op.drop_table("slack_events")
    op.drop_index("ix_sections_document_id", "sections")
    op.drop_table("sections")
    op.drop_index("ix_documents_channel_sha", "documents")
    op.drop_index("ix_documents_channel", "documents")
    op.drop_table("documents")
