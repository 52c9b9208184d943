"""conversation facts for the dashboard (bot.conversation_stats, fed by bot.events)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("sender_key", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_facts")),
        sa.UniqueConstraint("event_key", name=op.f("uq_conversation_facts_event_key")),
    )
    op.create_index("ix_conversation_facts_day_kind", "conversation_facts", ["day", "kind"])


def downgrade() -> None:
    op.drop_index("ix_conversation_facts_day_kind", table_name="conversation_facts")
    op.drop_table("conversation_facts")
