"""Reminders: the outbox of messages planned for patients and professionals."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import db
from engine.models.types import UTCDateTime


class ReminderStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Reminder(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "reminder"
    __table_args__ = (
        Index("ix_reminder_pending", "status", "send_at"),
        Index("ix_reminder_patient", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("pathway_instance.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    element_id: Mapped[str | None] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(40))  # "patient" or a role code
    professional_id: Mapped[int | None] = mapped_column(ForeignKey("professional.id"))
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(120))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    appointment_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    send_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=ReminderStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_id: Mapped[str | None] = mapped_column(String(200))
    rendered_text: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
