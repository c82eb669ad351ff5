"""Work items: ready user tasks mirrored from the engine into an inbox table, with their comments."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import db
from engine.models.types import UTCDateTime


class WorkItemStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class WorkItemKind(enum.StrEnum):
    TASK = "task"  # a ready user task of the engine
    ESCALATION = "escalation"  # a coordinator's item for an overdue task (no engine task behind it)
    ALERT = "alert"  # a coordinator's item for a critical reminder that could not be delivered


OPEN_STATUSES = (WorkItemStatus.OPEN.value, WorkItemStatus.CLAIMED.value)


class WorkItem(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "work_item"
    __table_args__ = (
        UniqueConstraint("instance_id", "spiff_task_id", name="uq_work_item_instance_task"),
        Index("ix_work_item_assignee_open", "assignee_id", "status", "due_at"),
        Index("ix_work_item_role_open", "role_code", "status", "due_at"),
        Index("ix_work_item_patient", "patient_id", "status"),
        Index("ix_work_item_instance_status", "instance_id", "status"),  # open items of an instance, every step
        # Migration e4c2a7b9d1f3: the role queues (open, unassigned), probed once per care team by the inbox.
        Index("ix_work_item_queue_open", "patient_id", "role_code",
              postgresql_where=text("status = 'open' AND assignee_id IS NULL"),
              sqlite_where=text("status = 'open' AND assignee_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("pathway_instance.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    role_code: Mapped[str] = mapped_column(String(40))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("professional.id"))
    status: Mapped[str] = mapped_column(String(16), default=WorkItemStatus.OPEN.value)
    priority: Mapped[str] = mapped_column(String(16), default="routine")
    form_key: Mapped[str | None] = mapped_column(String(120))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("professional.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Migration c5a1e7d2b4f6: items the sweeps open outside the engine carry a unique key (never twice).
    kind: Mapped[str] = mapped_column(String(16), default=WorkItemKind.TASK.value, server_default="task")
    escalation_key: Mapped[str | None] = mapped_column(String(120), unique=True)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class WorkItemComment(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "work_item_comment"
    __table_args__ = (Index("ix_work_item_comment_item", "work_item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_item.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("professional.id"))
    kind: Mapped[str] = mapped_column(String(16), default="comment")  # comment, claim, unclaim, hand_back
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
