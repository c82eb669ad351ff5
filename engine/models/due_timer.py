"""Due timers: the database is the source of truth for when an instance must wake up."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import db
from engine.models.types import UTCDateTime


class TimerStatus(enum.StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


class DueTimer(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "due_timer"
    __table_args__ = (
        # One row per occurrence: a cycle timer's engine task waits again with its next due time.
        UniqueConstraint("instance_id", "spiff_task_id", "due_at", name="uq_due_timer_occurrence"),
        Index("ix_due_timer_pending", "status", "due_at"),
        Index("ix_due_timer_instance", "instance_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("pathway_instance.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(300))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=TimerStatus.PENDING.value)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a job was last queued to fire it (the jobs' sweep; see engine/services/timer_wakeups.py): a timer is
    # queued once, and queued again only if it is still pending well after its due time (a lost job).
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
