"""One patient's run of a pathway version: engine state, status and the optimistic-lock counter."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import db
from engine.models.pathway_version import PathwayVersion
from engine.models.types import UTCDateTime


class InstanceStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    ERROR = "error"


# An instance that has not ended: it still carries patients' work, timers and reminders.
RUNNING_STATUSES = (InstanceStatus.ACTIVE.value, InstanceStatus.SUSPENDED.value, InstanceStatus.ERROR.value)


class PathwayInstance(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "pathway_instance"
    __table_args__ = (Index("ix_pathway_instance_patient", "patient_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("pathway_version.id"))
    status: Mapped[str] = mapped_column(String(16), default=InstanceStatus.ACTIVE.value)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(Text)
    state_bytes: Mapped[int] = mapped_column(Integer, default=0)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)
    error_element: Mapped[str | None] = mapped_column(String(200))
    error_message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    version: Mapped[PathwayVersion] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": lock_version}
