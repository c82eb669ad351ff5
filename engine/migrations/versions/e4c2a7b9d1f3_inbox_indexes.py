"""inbox indexes: a professional's memberships read from the index alone; the open role queues

The inbox probes the open, unassigned work items of each of my care teams: a partial index holds only
those (a few percent of the table). The care-team index gains the role and the period, so my memberships
come from the index without visiting the table (bench/inbox_at_scale.py: 3,183 -> 2,213 buffers).

Revision ID: e4c2a7b9d1f3
Revises: d2b6f1a4c8e0
Create Date: 2026-12-01 15:00:00
"""

import sqlalchemy as sa
from alembic import op


revision = "e4c2a7b9d1f3"
down_revision = "d2b6f1a4c8e0"
branch_labels = None
depends_on = None

QUEUE = "status = 'open' AND assignee_id IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("care_team_member", schema=None) as batch_op:
        batch_op.drop_index("ix_care_team_professional")
        batch_op.create_index("ix_care_team_professional",
                              ["professional_id", "patient_id", "role_code", "period_start", "period_end"],
                              unique=False)
    op.create_index("ix_work_item_queue_open", "work_item", ["patient_id", "role_code"], unique=False,
                    postgresql_where=sa.text(QUEUE), sqlite_where=sa.text(QUEUE))


def downgrade() -> None:
    op.drop_index("ix_work_item_queue_open", table_name="work_item")
    with op.batch_alter_table("care_team_member", schema=None) as batch_op:
        batch_op.drop_index("ix_care_team_professional")
        batch_op.create_index("ix_care_team_professional", ["professional_id", "patient_id"], unique=False)
