"""Audited reads of patient data for integrations (the JSON API): patients, care teams, instances, work items
and reminders.

Every function checks access server-side (a patient outside the actor's care team is AccessDenied, a 404
that the entry point audits as denied) and appends one AuditEvent per read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from engine.clock import Clock
from engine.db import db
from engine.errors import InvalidInput, NotFound
from engine.models import CareTeamMember, PathwayInstance, Patient, Professional, Reminder, WorkItem
from engine.models.work_item import OPEN_STATUSES
from engine.services import access, audit, patient_records
from engine.services.inbox_query import InboxFilter, inbox_query
from engine.services.reminder_queries import STATUSES as REMINDER_STATUSES
from engine.types import Actor


def list_my_patients(actor: Actor, *, clock: Clock, after_id: int | None = None, limit: int = 50) -> list[Patient]:
    """Patients the actor may see (care team now; a coordinator: the site's), by id after ``after_id``.

    One audited read listing the patients returned.
    """
    now = clock.now()
    query = select(Patient).order_by(Patient.id).limit(limit)
    if not actor.is_trusted_operator:
        query = query.where(patient_records.visible_patients(actor, now))
    if after_id is not None:
        query = query.where(Patient.id > after_id)
    patients = list(db.session.scalars(query))
    audit.record(actor, "patients.listed", at=now, object_type="patient",
                 details={"patients": [p.id for p in patients], "count": len(patients)})
    return patients


def get_patient(actor: Actor, patient_id: int, *, clock: Clock) -> Patient:
    """One patient's identity and contact preferences (audited read)."""
    patient = patient_records.get_patient(actor, patient_id, action="patient.read", clock=clock)
    audit.record(actor, "patient.read", at=clock.now(), patient_id=patient.id, object_type="patient",
                 object_id=patient.id)
    return patient


@dataclass(frozen=True)
class TeamMember:
    id: int
    professional_id: int
    login: str
    full_name: str
    role_code: str
    period_start: datetime
    period_end: datetime | None
    active: bool


def _members(patient_id: int, now: datetime) -> list[TeamMember]:
    rows = db.session.execute(select(CareTeamMember, Professional).join(
        Professional, Professional.id == CareTeamMember.professional_id)
        .where(CareTeamMember.patient_id == patient_id).order_by(CareTeamMember.period_start, CareTeamMember.id))
    return [TeamMember(m.id, p.id, p.login, p.full_name, m.role_code, m.period_start, m.period_end, m.is_active(now))
            for m, p in rows]


def care_team(actor: Actor, patient_id: int, *, clock: Clock) -> list[TeamMember]:
    """A patient's care team, past and present members, earliest first (audited read)."""
    patient = patient_records.get_patient(actor, patient_id, action="care_team.read", clock=clock)
    now = clock.now()
    audit.record(actor, "care_team.read", at=now, patient_id=patient.id, object_type="care_team",
                 object_id=patient.id)
    return _members(patient.id, now)


def get_instance(actor: Actor, instance_id: int, *, clock: Clock) -> PathwayInstance:
    """One pathway instance (status, context, lock version) of a patient the actor may see (audited)."""
    instance = db.session.get(PathwayInstance, instance_id, populate_existing=True)
    if instance is None:
        raise NotFound(f"no pathway instance {instance_id}")
    access.require_patient_access(actor, instance.patient_id, action="instance.read", clock=clock)
    audit.record(actor, "instance.read", at=clock.now(), patient_id=instance.patient_id, instance_id=instance.id,
                 object_type="pathway_instance", object_id=instance.id)
    return instance


def lock_version_of(instance_id: int) -> int | None:
    """An instance's current lock version (a counter, no patient data): the ETag after a write."""
    return db.session.scalar(select(PathwayInstance.lock_version).where(PathwayInstance.id == instance_id)
                             .execution_options(populate_existing=True))


def patient_instances(actor: Actor, patient_id: int, *, clock: Clock) -> list[PathwayInstance]:
    """A patient's pathway instances, active and past, oldest first (audited read)."""
    patient = patient_records.get_patient(actor, patient_id, action="instances.listed", clock=clock)
    instances = list(db.session.scalars(select(PathwayInstance).where(PathwayInstance.patient_id == patient.id)
                                        .order_by(PathwayInstance.id)))
    audit.record(actor, "instances.listed", at=clock.now(), patient_id=patient.id, object_type="pathway_instance",
                 details={"instances": [i.id for i in instances]})
    return instances


def get_work_item(actor: Actor, work_item_id: int, *, clock: Clock) -> tuple[WorkItem, int]:
    """A work item and its instance's current lock version (the ETag of a later completion); audited."""
    item = db.session.get(WorkItem, work_item_id, populate_existing=True)
    if item is None:
        raise NotFound(f"no work item {work_item_id}")
    access.require_patient_access(actor, item.patient_id, action="work_item.read", clock=clock)
    lock_version = db.session.scalar(select(PathwayInstance.lock_version)
                                     .where(PathwayInstance.id == item.instance_id)
                                     .execution_options(populate_existing=True))
    audit.record(actor, "work_item.read", at=clock.now(), patient_id=item.patient_id, instance_id=item.instance_id,
                 object_type="work_item", object_id=item.id)
    return item, int(lock_version or 0)


@dataclass(frozen=True)
class WorkItemQuery:
    """Filters of the work-item list; ``after``: the (due_at, id) of the last item of the previous page."""

    status: str | None = None
    overdue: bool = False
    pathway_key: str | None = None
    patient_id: int | None = None
    after: tuple[datetime | None, int] | None = None
    limit: int = 50


def list_work_items(actor: Actor, q: WorkItemQuery, *, clock: Clock) -> list[WorkItem]:
    """The actor's open work items (as the inbox: mine plus my roles' queues), soonest due first.

    Keyset pagination on (due_at, id) in the inbox order: an item appears on exactly one page even when
    items are added or completed between pages. Filtering on a patient checks access to that patient.
    One audited read listing the patients returned.
    """
    if q.status is not None and q.status not in OPEN_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(OPEN_STATUSES)}", {"status": "open ou claimed"})
    now = clock.now()
    if q.patient_id is not None:
        patient_records.get_patient(actor, q.patient_id, action="work_items.listed", clock=clock)
    if not actor.is_professional:
        items: list[WorkItem] = []
    else:
        query = inbox_query(actor, at=now, flt=InboxFilter(
            overdue=q.overdue, pathway_key=q.pathway_key, patient_id=q.patient_id, status=q.status, after=q.after,
            limit=q.limit))
        items = list(db.session.scalars(*query))
    audit.record(actor, "work_items.listed", at=now, patient_id=q.patient_id, object_type="work_item",
                 details={"patients": sorted({i.patient_id for i in items}), "count": len(items)})
    return items


def patient_reminders(actor: Actor, patient_id: int, *, clock: Clock, statuses: tuple[str, ...] = ()
                      ) -> list[Reminder]:
    """A patient's reminders with their delivery status, by send time (access-checked, one audited read)."""
    unknown = sorted(set(statuses) - set(REMINDER_STATUSES))
    if unknown:
        raise InvalidInput(f"unknown reminder status; expected one of {', '.join(REMINDER_STATUSES)}",
                           {"status": ", ".join(REMINDER_STATUSES)})
    patient = patient_records.get_patient(actor, patient_id, action="reminders.listed", clock=clock)
    query = select(Reminder).where(Reminder.patient_id == patient.id).order_by(Reminder.send_at, Reminder.id)
    if statuses:
        query = query.where(Reminder.status.in_(statuses))
    reminders = list(db.session.scalars(query))
    audit.record(actor, "reminders.listed", at=clock.now(), patient_id=patient.id, object_type="reminder",
                 details={"count": len(reminders)})
    return reminders
