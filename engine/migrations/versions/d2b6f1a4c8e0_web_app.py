"""web app: API tokens, saved inbox filters, each professional's language and timezone

Revision ID: d2b6f1a4c8e0
Revises: c5a1e7d2b4f6
Create Date: 2026-12-01 13:40:00
"""

import sqlalchemy as sa
from alembic import op


revision = "d2b6f1a4c8e0"
down_revision = "c5a1e7d2b4f6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["professional_id"], ["professional.id"],
                                name="fk_api_token_professional_id_professional"),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.UniqueConstraint("token_hash", name="uq_api_token_token_hash"),
    )
    op.create_index("ix_api_token_professional_id", "api_token", ["professional_id"], unique=False)
    op.create_table(
        "saved_filter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("site", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["professional.id"], name="fk_saved_filter_owner_id_professional"),
        sa.PrimaryKeyConstraint("id", name="pk_saved_filter"),
    )
    op.create_index("ix_saved_filter_owner_id", "saved_filter", ["owner_id"], unique=False)
    with op.batch_alter_table("professional", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), nullable=False, server_default="fr"))
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=False,
                                      server_default="Europe/Paris"))


def downgrade() -> None:
    with op.batch_alter_table("professional", schema=None) as batch_op:
        batch_op.drop_column("timezone")
        batch_op.drop_column("locale")
    op.drop_index("ix_saved_filter_owner_id", table_name="saved_filter")
    op.drop_table("saved_filter")
    op.drop_index("ix_api_token_professional_id", table_name="api_token")
    op.drop_table("api_token")
