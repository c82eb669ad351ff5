"""Dry runs of a pathway on a virtual clock: the calendar of what would happen, day by day.

Runs the same services, engine and sandbox as production, in whatever (throw-away) database the
caller's app context points to — the CLI gives it an in-memory SQLite database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine.clock import ManualClock
from engine.db import db
from engine.models import AuditEvent, PathwayInstance, WorkItem
from engine.services.fast_forward import Answers, play_until
from engine.services.instances import enrol_patient
from engine.services.pathways import PathwaySource, deploy_pathway
from engine.services.people import add_care_team_member, create_patient, create_professional
from engine.services.roles import ROLE_CODES, ensure_role_catalogue
from engine.types import Actor

CALENDAR_ACTIONS = {
    "work_item.opened": "ouverture",
    "work_item.completed": "fait",
    "timer.fired": "minuteur",
    "reminder.planned": "rappel",
    "message.caught": "message",
    "instance.completed": "fin",
    "instance.error": "erreur",
}


@dataclass
class SimulationReport:
    key: str
    start: datetime
    end: datetime
    status: str
    summary: dict[str, Any]
    calendar: list[dict[str, Any]] = field(default_factory=list)


def simulate_pathway(source: PathwaySource, *, start: datetime, days: int, context: dict[str, Any] | None = None,
                     answers: dict[str, Any] | None = None, progress: Callable[[int], None] | None = None
                     ) -> SimulationReport:
    """Deploy ``source`` on a synthetic patient, auto-complete work items, fire timers for ``days`` days.

    Commits (the database is the simulation's own). Missing anchor dates default to ``start``.
    """
    clock = ManualClock(start)
    actor = Actor.system("simulation")
    ensure_role_catalogue()
    version = deploy_pathway(source, actor=Actor.cli("simulation"), clock=clock).version
    patient = create_patient("SIM-0001", "Simulation", "Patient", at=clock.now())
    for role in sorted(ROLE_CODES - {"patient"}):
        pro = create_professional(f"sim-{role}", f"Simulation {role}", [role], at=clock.now())
        add_care_team_member(patient, pro, role, start=clock.now())
    ctx = {anchor: start.date().isoformat() for anchor in version.anchors}
    ctx.update(context or {})
    outcome = enrol_patient(patient.id, version.key, context=ctx, actor=actor, clock=clock)
    db.session.commit()
    end = start + timedelta(days=days)
    last_day = 0

    def day_reached(now: datetime) -> None:
        nonlocal last_day
        day = (now - start).days
        if progress is not None and day > last_day:
            progress(day - last_day)
            last_day = day

    play_until(outcome.instance_id, end, clock=clock, answers=Answers(answers), actor=actor, progress=day_reached)
    if progress is not None and days > last_day:
        progress(days - last_day)
    return _report(version.key, outcome.instance_id, start, end, clock)


def _report(key: str, instance_id: int, start: datetime, end: datetime, clock: ManualClock) -> SimulationReport:
    instance = db.session.get(PathwayInstance, instance_id)
    assert instance is not None  # noqa: S101
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.instance_id == instance_id, AuditEvent.action.in_(CALENDAR_ACTIONS)).order_by(AuditEvent.id))
    items = {w.id: w for w in db.session.scalars(select(WorkItem).where(WorkItem.instance_id == instance_id))}
    calendar = []
    counts = {"work_items_completed": 0, "timers_fired": 0, "reminders_planned": 0, "work_items_opened": 0}
    for event in events:
        entry: dict[str, Any] = {"day": (event.at - start).days, "at": event.at.isoformat(),
                                 "kind": CALENDAR_ACTIONS[event.action]}
        if event.object_type == "work_item" and event.object_id and int(event.object_id) in items:
            item = items[int(event.object_id)]
            entry.update(element_id=item.element_id, title=item.title, role=item.role_code,
                         due_at=item.due_at.isoformat() if item.due_at else None)
            if event.action == "work_item.completed":
                entry["data"] = item.data
        elif event.object_type == "element":
            entry["element_id"] = event.object_id
        elif event.action == "reminder.planned":
            entry.update(template=event.details.get("template"), channel=event.details.get("channel"),
                         recipient=event.details.get("recipient"))
        elif event.action == "instance.error":
            entry.update(element_id=event.details.get("element_id"), message=event.details.get("message"))
        calendar.append(entry)
        counter = {"work_item.completed": "work_items_completed", "timer.fired": "timers_fired",
                   "reminder.planned": "reminders_planned", "work_item.opened": "work_items_opened"}.get(event.action)
        if counter:
            counts[counter] += 1
    summary = {**counts, "state_bytes": instance.state_bytes, "status": instance.status,
               "days_simulated": (min(clock.now(), end) - start).days, "error_element": instance.error_element,
               "error_message": instance.error_message}
    return SimulationReport(key, start, end, instance.status, summary, calendar)
