"""Walk a shipped pathway through the real services on the injected clock: deploy, enrol, tick, complete.

Dates are written as the clinical calendar says them: ``walk.at(-7, 9)`` is J-7 at 09:00 Europe/Paris,
counted from the anchor (midnight local time of the anchor day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import isodate
from sqlalchemy import select

from engine.clock import ManualClock
from engine.db import db
from engine.models import DueTimer, PathwayInstance, Patient, Professional, Reminder, TimerStatus, WorkItem
from engine.models.work_item import OPEN_STATUSES
from engine.services.forms import form_defaults
from engine.services.inbox import complete_work_item, list_inbox
from engine.services.instances import enrol_patient
from engine.services.people import add_care_team_member, create_patient, create_professional
from engine.services.timers import fire_due_timers
from engine.types import Actor, StepOutcome
from tests.conftest import PARIS, REPO
from tests.factories import actor, deploy_file

SHIPPED = REPO / "workflows" / "bpmn"
PATIENT_LINK = Actor.system("lien-patient")  # a patient-lane item is filled in through the patient's secure link


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """``day`` at ``hour:minute``, Paris wall-clock time."""
    return datetime.combine(day, time(hour, minute), PARIS)


def plus_iso(opened: datetime, duration: str) -> datetime:
    """``opened`` + an ISO 8601 duration as a professional reads it: months on the Paris calendar
    (16 November 09:00 + P2M = 16 January 09:00), hours and days as elapsed time."""
    value = isodate.parse_duration(duration)
    if isinstance(value, isodate.Duration):
        return opened.astimezone(PARIS) + value
    return opened.astimezone(UTC) + value


def _team(clock: ManualClock, roles: list[str]) -> tuple[Patient, dict[str, Professional]]:
    """A patient and, for each role, one professional in the patient's care team (like tests.factories.make_team,
    without the password hashes that cost a tenth of a second each)."""
    now = clock.now()
    patient = create_patient("P-001", "Martin", "Jeanne", at=now, phone="+33600000000", site="MSP Test")
    team = {}
    for role in roles:
        team[role] = create_professional(role, f"Dr {role}", [role], at=now, site="MSP Test")
        if role != "patient":
            add_care_team_member(patient, team[role], role, start=now)
    db.session.commit()
    return patient, team


class Walk:
    """One patient enrolled on one shipped pathway, with a care team that has a professional for every lane."""

    def __init__(self, key: str, clock: ManualClock, *, anchor: str, day: date, roles: list[str],
                 params: dict[str, Any] | None = None) -> None:
        self.key, self.clock, self.day0 = key, clock, day
        deploy_file(SHIPPED / f"{key}.bpmn", clock)
        self.patient, self.team = _team(clock, roles)
        outcome = enrol_patient(self.patient.identifier, key, context={anchor: day.isoformat(), **(params or {})},
                                actor=Actor.cli(), clock=clock)
        db.session.commit()
        assert outcome.error_message is None, outcome.error_message
        self.instance_id = outcome.instance_id

    # -- time -------------------------------------------------------------------------------------------
    def at(self, days: int, hour: int = 0, minute: int = 0) -> datetime:
        """J+days at hour:minute, Paris time."""
        return local(self.day0 + timedelta(days=days), hour, minute)

    def tick(self, when: datetime) -> int:
        """Move the clock to ``when`` and run the timer sweep; returns how many timers fired.

        Every sweep is run twice: the second one, at the same time, must fire nothing (exactly once).
        """
        self.clock.set(when)
        report = fire_due_timers(clock=self.clock)
        assert report.errors == []
        again = fire_due_timers(clock=self.clock)
        assert again.fired == 0 and again.errors == [], "a timer fired twice"
        return report.fired

    def pending_timers(self) -> dict[str, datetime]:
        """Element id -> due time of every timer the instance waits on."""
        return {t.element_id: t.due_at for t in db.session.scalars(select(DueTimer).where(
            DueTimer.instance_id == self.instance_id, DueTimer.status == TimerStatus.PENDING.value))}

    # -- inboxes ----------------------------------------------------------------------------------------
    def inbox(self, role: str) -> list[str]:
        """Element ids in the inbox of the team's ``role`` professional, soonest due first."""
        return [i.element_id for i in list_inbox(actor(self.team[role]), clock=self.clock)]

    def inboxes(self) -> dict[str, list[str]]:
        """Every professional's inbox that is not empty, by role."""
        found = {role: self.inbox(role) for role in self.team if role != "patient"}
        return {role: items for role, items in found.items() if items}

    def item(self, role: str, element_id: str) -> WorkItem:
        """The one open work item ``element_id`` (a professional's inbox, or the patient's link)."""
        if role == "patient":
            items = [i for i in self.open_items() if i.role_code == "patient"]
        else:
            items = list_inbox(actor(self.team[role]), clock=self.clock)
        found = [i for i in items if i.element_id == element_id]
        assert len(found) == 1, f"{element_id} not once in {role}'s items: {[i.element_id for i in items]}"
        return found[0]

    def expect(self, role: str, element_id: str, *, due: datetime, priority: str = "routine",
               escalate_at: datetime | None = None, opened: datetime | None = None) -> WorkItem:
        """Check that ``element_id`` is open for ``role`` (assigned to the team's professional), opened at
        ``opened`` (default: just now), with that due time and priority."""
        item = self.item(role, element_id)
        opened = opened or self.clock.now()
        assert item.created_at == opened, f"{element_id} opened at {item.created_at.astimezone(PARIS)}"
        assert item.due_at == due, f"{element_id} due {item.due_at.astimezone(PARIS)}, expected {due}"
        assert item.priority == priority
        assert item.assignee_id == (None if role == "patient" else self.team[role].id)
        if escalate_at is not None:
            assert item.escalate_at == escalate_at, f"{element_id} escalates {item.escalate_at.astimezone(PARIS)}"
        return item

    def open_items(self) -> list[WorkItem]:
        return list(db.session.scalars(select(WorkItem).where(
            WorkItem.instance_id == self.instance_id, WorkItem.status.in_(OPEN_STATUSES)).order_by(WorkItem.id)))

    def complete(self, role: str, element_id: str, **answers: Any) -> StepOutcome:
        """Complete the open item as the team's ``role`` professional (the patient: through the link), with
        the form's defaults overridden by ``answers``."""
        item = self.item(role, element_id)
        who = PATIENT_LINK if role == "patient" else actor(self.team[role])
        instance = db.session.get(PathwayInstance, self.instance_id)
        data = {**form_defaults((instance.version.forms or {}).get(item.form_key or "")), **answers}
        outcome = complete_work_item(item.id, data, actor=who, clock=self.clock)
        db.session.commit()
        assert outcome.error_message is None, f"{outcome.error_element}: {outcome.error_message}"
        return outcome

    # -- results ----------------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return db.session.get(PathwayInstance, self.instance_id, populate_existing=True).status

    def reminders(self) -> list[tuple[str, str, str, datetime | None, datetime]]:
        """(template, recipient, channel, appointment_at, send_at) of every planned reminder, in order."""
        return [(r.template, r.recipient, r.channel, r.appointment_at, r.send_at) for r in db.session.scalars(
            select(Reminder).where(Reminder.instance_id == self.instance_id).order_by(Reminder.id))]

    def status_of(self, item: WorkItem) -> str:
        return db.session.get(WorkItem, item.id, populate_existing=True).status
