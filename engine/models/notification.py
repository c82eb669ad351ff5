"""Delivery records around reminders: the local outbox, provider receipts and one-time patient links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import db
from engine.models.types import UTCDateTime


class OutboxMessage(db.Model):  # type: ignore[name-defined,misc]
    """A message the local outbox channel "sent": nothing left the machine, the text is kept here."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_reminder", "reminder_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminder.id"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeliveryReceipt(db.Model):  # type: ignore[name-defined,misc]
    """One provider receipt; (provider id, status) is unique, so a receipt delivered twice counts once."""

    __tablename__ = "delivery_receipt"
    __table_args__ = (UniqueConstraint("provider_id", "provider_status", name="uq_delivery_receipt_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(200))
    provider_status: Mapped[str] = mapped_column(String(40))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminder.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PatientLink(db.Model):  # type: ignore[name-defined,misc]
    """A one-time link to a patient work item: only the token's SHA-256 is stored."""

    __tablename__ = "patient_link"
    __table_args__ = (Index("ix_patient_link_work_item", "work_item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_item.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminder.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
