"""The cohort of a pathway version, like a cockpit: per element, how many instances wait there and how many of
them are overdue; the patients at one element. Care managers only, restricted to their site's patients.

What "waiting at an element" means, for the active instances of the version:
- a user task: its open work items (overdue once past their due time);
- a timer: its pending due timers (overdue when past due and not fired yet: the engine is late);
- a message catch event: the instances whose stored state waits on it (never overdue: no due time).
Instances in ``error`` are counted apart, at the element that failed. Suspended instances are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select

from engine.bpmn.waits import waiting_elements
from engine.clock import Clock
from engine.db import db
from engine.errors import AccessDenied, NotFound
from engine.models import (
    DueTimer,
    InstanceStatus,
    PathwayInstance,
    PathwayVersion,
    Patient,
    TimerStatus,
    WorkItem,
    WorkItemKind,
)
from engine.models.work_item import OPEN_STATUSES
from engine.services import audit
from engine.services.care_managers import require_care_manager
from engine.services.pathways import compiled_for, get_version_by_id
from engine.types import Actor


def on_site(site: str) -> Any:
    """The SQL condition "the patient is at the care manager's site" ("" = every site: CLI and system)."""
    return Patient.site == site if site else Patient.id.is_not(None)


def instance_on_site(actor: Actor, instance: PathwayInstance, *, action: str) -> Patient:
    """The instance's patient if they are at the care manager's site, else AccessDenied (404, audited)."""
    site = require_care_manager(actor)
    patient = db.session.get(Patient, instance.patient_id)
    if patient is None or (site and patient.site != site):
        raise AccessDenied(f"no pathway instance {instance.id} at your site", actor_label=actor.label,
                           actor_kind=actor.kind, actor_id=actor.professional_id, action=action,
                           patient_id=instance.patient_id)
    return patient


@dataclass(frozen=True)
class ElementCount:
    element_id: str
    title: str
    waiting: int = 0
    overdue: int = 0
    errors: int = 0


@dataclass
class VersionCohort:
    version: PathwayVersion
    running: int
    in_error: int
    elements: list[ElementCount] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        return {e.element_id: {"waiting": e.waiting, "overdue": e.overdue, "errors": e.errors}
                for e in self.elements}


@dataclass(frozen=True)
class VersionSummary:
    """A version with instances at the care manager's site: how many run, how many are in error."""

    version: PathwayVersion
    running: int
    in_error: int
    later_versions: tuple[tuple[int, int], ...]  # (number, id) of the versions deployed after this one


def _instances(version_id: int, site: str, status: InstanceStatus) -> Any:
    return (select(PathwayInstance.id).join(Patient, Patient.id == PathwayInstance.patient_id)
            .where(PathwayInstance.version_id == version_id, PathwayInstance.status == status.value, on_site(site)))


def _title(version: PathwayVersion, element_id: str, fallback: str | None = None) -> str:
    info = compiled_for(version).element(element_id)
    return (info.name if info is not None and info.name else None) or fallback or element_id


def version_cohort(actor: Actor, version_id: int, *, clock: Clock) -> VersionCohort:
    """Per element of the version: instances waiting there and how many are overdue (counts only: no patient
    is named, so the read is not audited; ``patients_at_element`` is)."""
    site = require_care_manager(actor)
    version = get_version_by_id(version_id)
    now = clock.now()
    active = _instances(version.id, site, InstanceStatus.ACTIVE)
    waiting: dict[str, list[int]] = {}  # element id → [waiting, overdue]
    titles: dict[str, str] = {}
    overdue_item = func.sum(case((and_(WorkItem.due_at.is_not(None), WorkItem.due_at < now), 1), else_=0))
    for element_id, title, total, late in db.session.execute(
            select(WorkItem.element_id, func.max(WorkItem.title), func.count(WorkItem.id), overdue_item)
            .where(WorkItem.instance_id.in_(active), WorkItem.status.in_(OPEN_STATUSES),
                   WorkItem.kind == WorkItemKind.TASK.value).group_by(WorkItem.element_id)):
        waiting[element_id] = [int(total), int(late or 0)]
        titles[element_id] = title
    late_timer = func.sum(case((DueTimer.due_at < now, 1), else_=0))
    for element_id, total, late in db.session.execute(
            select(DueTimer.element_id, func.count(DueTimer.id), late_timer)
            .where(DueTimer.instance_id.in_(active), DueTimer.status == TimerStatus.PENDING.value)
            .group_by(DueTimer.element_id)):
        counts = waiting.setdefault(element_id, [0, 0])
        counts[0] += int(total)
        counts[1] += int(late or 0)
    for _instance_id, element_id, _since in _message_wait_rows(version, site):
        waiting.setdefault(element_id, [0, 0])[0] += 1
    errors = dict(db.session.execute(
        select(PathwayInstance.error_element, func.count(PathwayInstance.id))
        .where(PathwayInstance.id.in_(_instances(version.id, site, InstanceStatus.ERROR)))
        .group_by(PathwayInstance.error_element)).all())
    element_ids = sorted(set(waiting) | {e for e in errors if e})
    cohort = VersionCohort(version, running=_count(active), in_error=sum(int(n) for n in errors.values()))
    for element_id in element_ids:
        total, late = waiting.get(element_id, [0, 0])
        cohort.elements.append(ElementCount(element_id, _title(version, element_id, titles.get(element_id)),
                                            total, late, int(errors.get(element_id, 0))))
    cohort.elements.sort(key=lambda e: (-e.overdue, -e.errors, -e.waiting, e.title))
    return cohort


def _count(query: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _message_elements(version: PathwayVersion) -> set[str]:
    return {e.element_id for e in compiled_for(version).elements.values() if e.kind == "message"}


def _message_wait_rows(version: PathwayVersion, site: str, element_id: str | None = None
                       ) -> list[tuple[int, str, datetime]]:
    wanted = _message_elements(version)
    if element_id is not None:
        wanted &= {element_id}
    if not wanted:
        return []
    rows = []
    for instance_id, state in db.session.execute(
            select(PathwayInstance.id, PathwayInstance.state)
            .where(PathwayInstance.id.in_(_instances(version.id, site, InstanceStatus.ACTIVE)))):
        rows += [(instance_id, e, since) for e, since in waiting_elements(state, wanted).items()]
    return rows


def version_summaries(actor: Actor) -> list[VersionSummary]:
    """Every version with running (active) or in-error instances at the care manager's site, by pathway."""
    site = require_care_manager(actor)
    running = func.sum(case((PathwayInstance.status == InstanceStatus.ACTIVE.value, 1), else_=0))
    failed = func.sum(case((PathwayInstance.status == InstanceStatus.ERROR.value, 1), else_=0))
    rows = db.session.execute(
        select(PathwayInstance.version_id, running, failed)
        .join(Patient, Patient.id == PathwayInstance.patient_id)
        .where(on_site(site), PathwayInstance.status.in_([InstanceStatus.ACTIVE.value, InstanceStatus.ERROR.value]))
        .group_by(PathwayInstance.version_id)).all()
    counts = {vid: (int(r or 0), int(e or 0)) for vid, r, e in rows}
    versions = list(db.session.scalars(select(PathwayVersion).order_by(PathwayVersion.key, PathwayVersion.version)))
    numbers: dict[str, list[tuple[int, int]]] = {}
    for v in versions:
        numbers.setdefault(v.key, []).append((v.version, v.id))
    return [VersionSummary(v, *counts[v.id], tuple(n for n in numbers[v.key] if n[0] > v.version))
            for v in versions if v.id in counts]


@dataclass(frozen=True)
class PatientAtElement:
    patient: Patient
    instance_id: int
    kind: str  # work_item, timer, message, error
    since: datetime | None
    due_at: datetime | None
    overdue: bool
    work_item_id: int | None = None
    message: str | None = None  # the error message, for an instance in error


@dataclass
class ElementPatients:
    version: PathwayVersion
    element_id: str
    title: str
    rows: list[PatientAtElement] = field(default_factory=list)


def patients_at_element(actor: Actor, version_id: int, element_id: str, *, clock: Clock) -> ElementPatients:
    """The site's patients whose instance of the version waits at (or failed at) ``element_id``, overdue first.

    Audited "cohort.element_viewed" with the patients listed. NotFound for an element the version lacks.
    """
    site = require_care_manager(actor)
    version = get_version_by_id(version_id)
    if element_id not in compiled_for(version).spec.task_specs:
        raise NotFound(f"version {version.version} of '{version.key}' has no element '{element_id}'")
    now = clock.now()
    active = _instances(version.id, site, InstanceStatus.ACTIVE)
    rows: list[PatientAtElement] = []
    for item, patient in db.session.execute(
            select(WorkItem, Patient).join(Patient, Patient.id == WorkItem.patient_id)
            .where(WorkItem.instance_id.in_(active), WorkItem.element_id == element_id,
                   WorkItem.status.in_(OPEN_STATUSES), WorkItem.kind == WorkItemKind.TASK.value)):
        late = item.due_at is not None and item.due_at < now
        rows.append(PatientAtElement(patient, item.instance_id, "work_item", item.created_at, item.due_at, late,
                                     work_item_id=item.id))
    for timer, patient in db.session.execute(
            select(DueTimer, Patient).join(PathwayInstance, PathwayInstance.id == DueTimer.instance_id)
            .join(Patient, Patient.id == PathwayInstance.patient_id)
            .where(DueTimer.instance_id.in_(active), DueTimer.element_id == element_id,
                   DueTimer.status == TimerStatus.PENDING.value)):
        rows.append(PatientAtElement(patient, timer.instance_id, "timer", timer.created_at, timer.due_at,
                                     timer.due_at < now))
    waits = _message_wait_rows(version, site, element_id)
    if waits:
        patients = dict(db.session.execute(
            select(PathwayInstance.id, Patient).join(Patient, Patient.id == PathwayInstance.patient_id)
            .where(PathwayInstance.id.in_([w[0] for w in waits]))).all())
        rows += [PatientAtElement(patients[i], i, "message", since, None, False) for i, _e, since in waits]
    for instance, patient in db.session.execute(
            select(PathwayInstance, Patient).join(Patient, Patient.id == PathwayInstance.patient_id)
            .where(PathwayInstance.id.in_(_instances(version.id, site, InstanceStatus.ERROR)),
                   PathwayInstance.error_element == element_id)):
        rows.append(PatientAtElement(patient, instance.id, "error", instance.updated_at, None, False,
                                     message=instance.error_message))
    rows.sort(key=lambda r: (not r.overdue, r.kind != "error", r.due_at is None, r.due_at or now,
                             r.patient.family_name, r.patient.given_name, r.instance_id))
    audit.record(actor, "cohort.element_viewed", at=now, object_type="pathway_version", object_id=version.id,
                 details={"element_id": element_id, "patients": sorted({r.patient.id for r in rows}),
                          "count": len(rows)})
    return ElementPatients(version, element_id, _title(version, element_id), rows)
