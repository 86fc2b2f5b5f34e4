"""the reports: each logged call's facts (call_logs), the milestones a lead reached and its
source, a campaign message's campaign and step, a first touch in working hours; indexes for
the reports, and the rows from before filled in

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A campaign step's outbox key: `<workflow id>:campaign:<name>:<run>:<step>:<party>`.
STEP_KEY = r":campaign:([^:]+):[0-9]+:([0-9]+):[^:]+$"


def _answered() -> list[sa.Column[object]]:
    """What a reply or a contact answered: the lead's last campaign message before it."""
    return [
        sa.Column("answered_key", sa.String(400), nullable=True),
        sa.Column("answered_campaign", sa.String(100), nullable=True),
        sa.Column("answered_step", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "call_logs",
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("lead_id", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("disposition", sa.String(100), nullable=False),
        sa.Column("contact", sa.Boolean(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        *_answered(),
        sa.ForeignKeyConstraint(
            ["account_id", "lead_id"],
            ["leads.account_id", "leads.lead_id"],
            name=op.f("fk_call_logs_account_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_call_logs")),
    )
    counted = ["attempt", "contact", "actor"]  # what the reports read from the index alone
    op.create_index(
        "ix_call_logs_at", "call_logs", ["account_id", "at"], postgresql_include=counted
    )
    op.add_column("leads", sa.Column("source", sa.String(100), nullable=True))
    op.add_column("leads", sa.Column("agent", sa.String(128), nullable=True))
    op.execute(  # the user routing gave each lead last
        "UPDATE leads l SET agent = (SELECT r.agent FROM routing_assignments r "
        "WHERE r.account_id = l.account_id AND r.lead_id = l.lead_id AND r.agent IS NOT NULL "
        "ORDER BY r.attempt DESC LIMIT 1)"
    )
    op.add_column(
        "leads",
        sa.Column("reached", ARRAY(sa.String(100)), server_default="{}", nullable=False),
    )
    op.add_column("outbox", sa.Column("campaign", sa.String(100), nullable=True))
    op.add_column("outbox", sa.Column("step", sa.Integer(), nullable=True))
    op.add_column("first_touches", sa.Column("business_seconds", sa.Integer(), nullable=True))
    # The rows from before: each lead's milestones from its history notes, each campaign
    # message's campaign and step from its key.
    op.execute(
        "UPDATE leads SET reached = ARRAY(SELECT DISTINCT m FROM unnest(array_append("
        "  (SELECT array_agg(DISTINCT n.milestone) FROM history_notes n"
        "   WHERE n.account_id = leads.account_id AND n.lead_id = leads.lead_id),"
        "  leads.milestone)) AS m WHERE m IS NOT NULL)"
    )
    op.execute(
        f"UPDATE outbox SET campaign = (regexp_match(key, '{STEP_KEY}'))[1], "
        f"step = ((regexp_match(key, '{STEP_KEY}'))[2])::int "
        "WHERE key ~ ':campaign:'"
    )
    for column in _answered():
        op.add_column("inbound_messages", column)
    op.execute(  # the replies from before: each answers the last campaign message before it
        "UPDATE inbound_messages i "
        "SET (answered_key, answered_campaign, answered_step, answered_at) = ("
        "  SELECT key, campaign, step, created_at FROM outbox"
        "  WHERE account_id = i.account_id AND lead_id = i.lead_id"
        "  AND created_at <= i.received_at AND campaign IS NOT NULL"
        "  ORDER BY created_at DESC LIMIT 1)"
    )
    for table in ("inbound_messages", "call_logs"):
        op.create_index(
            f"ix_{table}_answered",
            table,
            ["account_id", "answered_at"],
            postgresql_where=sa.text("answered_key IS NOT NULL"),
        )
    op.create_index(
        "ix_call_logs_lead",
        "call_logs",
        ["account_id", "lead_id", "at"],
        postgresql_include=["attempt", "contact", "actor"],
    )
    op.create_index("ix_leads_created", "leads", ["account_id", "created_at"])
    op.create_index("ix_leads_disposition", "leads", ["account_id", "milestone", "status"])
    op.create_index(
        "ix_outbox_steps",
        "outbox",
        ["account_id", "created_at"],
        postgresql_include=["campaign", "step", "status"],
        postgresql_where=sa.text("campaign IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_steps", table_name="outbox")
    op.drop_index("ix_leads_disposition", table_name="leads")
    op.drop_index("ix_leads_created", table_name="leads")
    op.drop_index("ix_inbound_messages_answered", table_name="inbound_messages")
    for name in ("answered_key", "answered_campaign", "answered_step", "answered_at"):
        op.drop_column("inbound_messages", name)
    op.drop_column("first_touches", "business_seconds")
    op.drop_column("outbox", "step")
    op.drop_column("outbox", "campaign")
    op.drop_column("leads", "reached")
    op.drop_column("leads", "agent")
    op.drop_column("leads", "source")
    op.drop_table("call_logs")
