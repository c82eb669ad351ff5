"""due timer: enqueued_at, when a job was last queued to fire the timer

The jobs' sweep queues a fire job per timer due soon (a Celery ETA) and must not queue the same timer again
on every sweep; it queues it again only if the timer is still pending long after its due time (the job was
lost with a killed worker or a broker restart).

Revision ID: c3a8d1e5f7b2
Revises: b7e2f4a9c1d3
Create Date: 2026-11-24 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c3a8d1e5f7b2"
down_revision = "b7e2f4a9c1d3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("due_timer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("due_timer", schema=None) as batch_op:
        batch_op.drop_column("enqueued_at")
