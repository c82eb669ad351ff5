"""Reading reminders for people: the list behind `parcours reminders` (access-checked and audited)."""

from __future__ import annotations

from sqlalchemy import select

from engine.clock import Clock
from engine.db import db
from engine.errors import InvalidInput
from engine.models import Reminder, ReminderStatus
from engine.services import access, audit
from engine.types import Actor

STATUSES = tuple(s.value for s in ReminderStatus)


def list_reminders(actor: Actor, *, clock: Clock, statuses: tuple[str, ...] = (), patient_id: int | None = None,
                   limit: int = 1000) -> list[Reminder]:
    """Reminders by send time, filtered by status; a professional sees only their patients' (one audited read)."""
    unknown = sorted(set(statuses) - set(STATUSES))
    if unknown:
        raise InvalidInput(f"unknown reminder status {', '.join(unknown)}; expected one of {', '.join(STATUSES)}")
    query = select(Reminder).order_by(Reminder.send_at, Reminder.id).limit(limit)
    if statuses:
        query = query.where(Reminder.status.in_(statuses))
    if patient_id is not None:
        query = query.where(Reminder.patient_id == patient_id)
    rows = list(db.session.scalars(query))
    if not actor.is_trusted_operator:
        allowed = {pid for pid in {r.patient_id for r in rows}
                   if access.can_access_patient(actor, pid, clock=clock)}
        rows = [r for r in rows if r.patient_id in allowed]
    audit.record(actor, "reminders.listed", at=clock.now(), object_type="reminder",
                 details={"patients": sorted({r.patient_id for r in rows}), "count": len(rows)})
    db.session.flush()
    return rows
