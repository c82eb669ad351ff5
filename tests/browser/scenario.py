"""The issue's scenario data, relative to now (the live server reads the system clock): a patient operated
yesterday on the shoulder RRAC pathway, replayed like the demo's DEMO-001, with the nurse's J+1 call open."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select

from engine.clock import SystemClock
from engine.db import db
from engine.models import WorkItem
from engine.models.work_item import OPEN_STATUSES
from webapp.cli.demo import PARIS, DemoPatient, demo_professionals, enrol_and_replay

J1_CALL = "Task_AppelJ1"  # workflows/bpmn/rrac_epaule.bpmn, lane infirmier, opens at J+1 10:00
URGENT_REVIEW = "Task_AvisChirurgienUrgent"  # lane chirurgien: after the call when pain ≥ 7 (seuil_nrs_urgent)


@dataclass(frozen=True)
class OperatedYesterday:
    patient_id: int
    family: str
    given: str
    instance_id: int
    call_id: int
    call_title: str


def j1_call_opens(now: datetime) -> datetime:
    """When the J+1 call of a patient operated yesterday opens: today at 10:00, Paris (the timer's time)."""
    return datetime.combine(now.astimezone(PARIS).date(), time(10, 0), PARIS)


def patient_operated_yesterday(family: str = "Lefèvre", given: str = "Anne", *,
                               now: datetime | None = None) -> OperatedYesterday:
    """A new patient (every demo professional in the care team) operated yesterday, enrolled three weeks ago
    and replayed to ``now`` (default: the system clock's), every step done but the J+1 call, which is left
    open. Before 10:00 the replay runs to 10:01 today, so that the call is open whatever the time of the test
    run (call within an app context)."""
    now = now or SystemClock().now()
    until = max(now, j1_call_opens(now) + timedelta(minutes=1))
    identifier = f"BRW-{secrets.token_hex(3).upper()}"
    spec = DemoPatient(identifier, family, given, "rrac_epaule", "date_chirurgie", -1, 21, 0,
                       leave_open=frozenset({J1_CALL}), story="opérée hier : appel infirmier de J+1")
    instance_id = enrol_and_replay(spec, demo_professionals(now), until)
    call = db.session.scalar(select(WorkItem).where(WorkItem.instance_id == instance_id,
                                                    WorkItem.element_id == J1_CALL,
                                                    WorkItem.status.in_(OPEN_STATUSES)))
    open_items = db.session.scalars(select(WorkItem.element_id).where(
        WorkItem.instance_id == instance_id, WorkItem.status.in_(OPEN_STATUSES))).all()
    assert call is not None, f"the replay left no open J+1 call (open: {open_items})"
    return OperatedYesterday(call.patient_id, family, given, instance_id, call.id, call.title)


def open_item_of(instance_id: int, element_id: str) -> WorkItem | None:
    return db.session.scalar(select(WorkItem).where(WorkItem.instance_id == instance_id,
                                                    WorkItem.element_id == element_id,
                                                    WorkItem.status.in_(OPEN_STATUSES)))
