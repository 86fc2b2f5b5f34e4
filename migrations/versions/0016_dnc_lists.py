"""do-not-call lists: the US national registry, the states' lists and Canada's, each held
as NPA-NXX blocks of bitmaps or sorted lines

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dnc_lists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("numbers", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dnc_lists")),
        sa.UniqueConstraint("name", name=op.f("uq_dnc_lists_name")),
    )
    op.create_table(
        "dnc_blocks",
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=True),
        sa.Column("lines", postgresql.ARRAY(sa.SmallInteger()), nullable=True),
        sa.CheckConstraint(
            "(bits IS NULL) <> (lines IS NULL)", name=op.f("ck_dnc_blocks_one_form")
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["dnc_lists.id"],
            name=op.f("fk_dnc_blocks_list_id_dnc_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("block", "list_id", name=op.f("pk_dnc_blocks")),
    )
    op.create_index("ix_dnc_blocks_list", "dnc_blocks", ["list_id"])


def downgrade() -> None:
    op.drop_index("ix_dnc_blocks_list", table_name="dnc_blocks")
    op.drop_table("dnc_blocks")
    op.drop_table("dnc_lists")
