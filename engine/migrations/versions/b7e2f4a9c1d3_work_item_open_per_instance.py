"""work item: index (instance_id, status) for the open items of an instance

Every engine step reads the instance's open work items. With only the (instance_id, spiff_task_id)
unique index that read walked every work item the instance ever had: a pathway looping daily for
years got slower each cycle.

Revision ID: b7e2f4a9c1d3
Revises: a3c1d2e4f5b6
Create Date: 2026-11-23 12:00:00
"""

from alembic import op

revision = "b7e2f4a9c1d3"
down_revision = "a3c1d2e4f5b6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_item", schema=None) as batch_op:
        batch_op.create_index("ix_work_item_instance_status", ["instance_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_item", schema=None) as batch_op:
        batch_op.drop_index("ix_work_item_instance_status")
