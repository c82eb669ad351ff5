"""due timer: one row per occurrence (a cycle timer's engine task fires many times)

Revision ID: a3c1d2e4f5b6
Revises: 6b47e38286b8
Create Date: 2026-11-23 11:00:00
"""

from alembic import op

revision = "a3c1d2e4f5b6"
down_revision = "6b47e38286b8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("due_timer", schema=None) as batch_op:
        batch_op.drop_constraint("uq_due_timer_instance_task", type_="unique")
        batch_op.create_unique_constraint("uq_due_timer_occurrence", ["instance_id", "spiff_task_id", "due_at"])


def downgrade() -> None:
    with op.batch_alter_table("due_timer", schema=None) as batch_op:
        batch_op.drop_constraint("uq_due_timer_occurrence", type_="unique")
        batch_op.create_unique_constraint("uq_due_timer_instance_task", ["instance_id", "spiff_task_id"])
