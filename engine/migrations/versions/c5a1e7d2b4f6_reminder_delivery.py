"""reminder delivery: retries, leases, fallback, receipts, local outbox, one-time patient links, escalations

Reminder rows gain what delivery needs (next_attempt_at, lease_until, channel_attempts, fallback_from,
status_reason, provider_status, sent_at, delivered_at, work_item_id); work items gain a kind and a unique
escalation key (escalations and undelivered-critical alerts are opened once); patients may set their own
quiet window. New tables: outbox_message, delivery_receipt, patient_link.

Revision ID: c5a1e7d2b4f6
Revises: c3a8d1e5f7b2
Create Date: 2026-11-24 10:00:00
"""

import sqlalchemy as sa
from alembic import op


revision = "c5a1e7d2b4f6"
down_revision = "c3a8d1e5f7b2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("channel_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("fallback_from", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("work_item_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("provider_status", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key("fk_reminder_work_item_id_work_item", "work_item", ["work_item_id"], ["id"])
        batch_op.create_index("ix_reminder_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_reminder_provider", ["provider_id"], unique=False)
        batch_op.create_index("ix_reminder_work_item", ["work_item_id"], unique=False)
    op.execute("UPDATE reminder SET next_attempt_at = send_at WHERE next_attempt_at IS NULL")

    with op.batch_alter_table("work_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="task"))
        batch_op.add_column(sa.Column("escalation_key", sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint("uq_work_item_escalation_key", ["escalation_key"])

    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quiet_hours", sa.String(length=20), nullable=True))

    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reminder_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["reminder_id"], ["reminder.id"], name="fk_outbox_message_reminder_id_reminder"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_message"),
    )
    op.create_index("ix_outbox_message_reminder", "outbox_message", ["reminder_id"], unique=False)
    op.create_table(
        "delivery_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=200), nullable=False),
        sa.Column("provider_status", sa.String(length=40), nullable=False),
        sa.Column("reminder_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["reminder_id"], ["reminder.id"], name="fk_delivery_receipt_reminder_id_reminder"),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_receipt"),
        sa.UniqueConstraint("provider_id", "provider_status", name="uq_delivery_receipt_status"),
    )
    op.create_table(
        "patient_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("reminder_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["work_item_id"], ["work_item.id"], name="fk_patient_link_work_item_id_work_item"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name="fk_patient_link_patient_id_patient"),
        sa.ForeignKeyConstraint(["reminder_id"], ["reminder.id"], name="fk_patient_link_reminder_id_reminder"),
        sa.PrimaryKeyConstraint("id", name="pk_patient_link"),
        sa.UniqueConstraint("token_hash", name="uq_patient_link_token_hash"),
    )
    op.create_index("ix_patient_link_work_item", "patient_link", ["work_item_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patient_link_work_item", table_name="patient_link")
    op.drop_table("patient_link")
    op.drop_table("delivery_receipt")
    op.drop_index("ix_outbox_message_reminder", table_name="outbox_message")
    op.drop_table("outbox_message")
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_column("quiet_hours")
    with op.batch_alter_table("work_item", schema=None) as batch_op:
        batch_op.drop_constraint("uq_work_item_escalation_key", type_="unique")
        batch_op.drop_column("escalation_key")
        batch_op.drop_column("kind")
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_work_item")
        batch_op.drop_index("ix_reminder_provider")
        batch_op.drop_index("ix_reminder_due")
        batch_op.drop_constraint("fk_reminder_work_item_id_work_item", type_="foreignkey")
        for column in ("delivered_at", "sent_at", "provider_status", "status_reason", "work_item_id",
                       "fallback_from", "channel_attempts", "lease_until", "next_attempt_at"):
            batch_op.drop_column(column)
