"""pathway drafts: BPMN edited in the studio (with its forms and DMN), saved with an optimistic revision

Revision ID: f5d3a9c2b8e1
Revises: e4c2a7b9d1f3
Create Date: 2026-12-01 16:45:00
"""

import sqlalchemy as sa
from alembic import op


revision = "f5d3a9c2b8e1"
down_revision = "e4c2a7b9d1f3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pathway_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("bpmn_xml", sa.Text(), nullable=False),
        sa.Column("forms", sa.JSON(), nullable=False),
        sa.Column("dmn_files", sa.JSON(), nullable=False),
        sa.Column("base_version_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("deployed_version_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_label", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_label", sa.String(length=120), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["base_version_id"], ["pathway_version.id"],
                                name="fk_pathway_draft_base_version_id_pathway_version"),
        sa.ForeignKeyConstraint(["deployed_version_id"], ["pathway_version.id"],
                                name="fk_pathway_draft_deployed_version_id_pathway_version"),
        sa.ForeignKeyConstraint(["created_by_id"], ["professional.id"],
                                name="fk_pathway_draft_created_by_id_professional"),
        sa.ForeignKeyConstraint(["updated_by_id"], ["professional.id"],
                                name="fk_pathway_draft_updated_by_id_professional"),
        sa.PrimaryKeyConstraint("id", name="pk_pathway_draft"),
    )
    op.create_index("ix_pathway_draft_key", "pathway_draft", ["key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_pathway_draft_key", table_name="pathway_draft")
    op.drop_table("pathway_draft")
