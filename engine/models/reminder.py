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
    SENDING = "sending"  # claimed by a dispatcher until lease_until; a crash lets another take it after
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _first_attempt_at(context: Any) -> datetime | None:
    """A new reminder is first due at its send_at (the planner only sets send_at)."""
    return context.get_current_parameters().get("send_at")  # type: ignore[no-any-return]


class Reminder(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "reminder"
    __table_args__ = (
        Index("ix_reminder_pending", "status", "send_at"),
        Index("ix_reminder_due", "status", "next_attempt_at"),
        Index("ix_reminder_patient", "patient_id"),
        Index("ix_reminder_provider", "provider_id"),
        Index("ix_reminder_work_item", "work_item_id"),
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
    # Delivery (migration c5a1e7d2b4f6): send_at is when the reminder may go at the earliest; next_attempt_at
    # moves with quiet hours and retries (the dispatch index); lease_until guards a claim in "sending".
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=_first_attempt_at)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel_attempts: Mapped[int] = mapped_column(Integer, default=0)  # attempts on the current channel
    fallback_from: Mapped[str | None] = mapped_column(String(16))  # the channel given up for this one
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_item.id"))
    status_reason: Mapped[str | None] = mapped_column(String(200))
    provider_status: Mapped[str | None] = mapped_column(String(40))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
