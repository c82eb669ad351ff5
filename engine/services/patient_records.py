"""The patient record as professionals read it: my patients (searchable), one patient's identity, team and
pathways, and the pathways they can be enrolled on. Every read is access-checked and audited.

The INS (national health identifier) is shown in full to the site's coordinators only, who run identity
vigilance (they check it against the ID document); everyone else sees its status (qualified or not) and a
masked value — enough to know the identity is verified, not enough to copy it elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select

from engine.clock import Clock
from engine.db import db
from engine.errors import NotFound, NotPermitted
from engine.models import (
    RUNNING_STATUSES,
    CareTeamMember,
    PathwayInstance,
    PathwayVersion,
    Patient,
    WorkItem,
)
from engine.models.pathway_version import VersionStatus
from engine.models.work_item import OPEN_STATUSES
from engine.services import access, audit
from engine.services.care_teams import CareTeamEntry, list_members
from engine.services.people import patient_zone
from engine.types import Actor


@dataclass(frozen=True)
class PatientSummary:
    """One line of the patient list."""

    patient: Patient
    pathways: list[str]
    open_count: int
    overdue_count: int


@dataclass(frozen=True)
class InstanceSummary:
    instance: PathwayInstance
    anchors: dict[str, date | datetime | str]  # anchor name -> the date (or date-time) enrolled with

    @property
    def running(self) -> bool:
        return self.instance.status in RUNNING_STATUSES


@dataclass(frozen=True)
class EnrolChoice:
    """A pathway the patient can be enrolled on, with the anchor dates its start needs."""

    key: str
    title: str
    version: int
    anchors: list[str]


@dataclass
class PatientRecord:
    patient: Patient
    ins_display: str | None
    care_team: list[CareTeamEntry]
    instances: list[InstanceSummary]
    enrol_choices: list[EnrolChoice] = field(default_factory=list)
    is_site_coordinator: bool = False


def is_site_coordinator(actor: Actor, patient: Patient) -> bool:
    """A coordinator of the patient's site (the operator counts as one)."""
    if actor.is_trusted_operator:
        return True
    return "coordinateur" in actor.roles and bool(actor.site) and patient.site == actor.site


def masked_ins(ins: str | None) -> str | None:
    if not ins:
        return None
    return "•" * max(0, len(ins) - 2) + ins[-2:]


def visible_patients(actor: Actor, at: datetime) -> Any:
    """SELECT of the patient ids the actor may see now: care-team membership; coordinators: their site too."""
    member = select(CareTeamMember.patient_id).where(
        CareTeamMember.professional_id == actor.professional_id, CareTeamMember.period_start <= at,
        or_(CareTeamMember.period_end.is_(None), CareTeamMember.period_end > at))
    condition = Patient.id.in_(member)
    if "coordinateur" in actor.roles and actor.site:
        condition = or_(condition, Patient.site == actor.site)
    return condition


def list_patients(actor: Actor, *, clock: Clock, search: str | None = None, limit: int = 200
                  ) -> list[PatientSummary]:
    """My patients (care team now; coordinators: their site's), by name, with their running pathways and
    open / overdue work counts. Audited as one read listing the patients shown."""
    if not actor.is_professional and not actor.is_trusted_operator:
        raise NotPermitted("the patient list belongs to a professional")
    now = clock.now()
    query = select(Patient)
    if not actor.is_trusted_operator:
        query = query.where(visible_patients(actor, now))
    text = (search or "").strip()
    if text:
        like = f"%{text.lower()}%"
        query = query.where(or_(func.lower(Patient.family_name).like(like), func.lower(Patient.given_name).like(like),
                                func.lower(Patient.identifier).like(like),
                                func.lower(Patient.given_name + " " + Patient.family_name).like(like)))
    patients = list(db.session.scalars(query.order_by(Patient.family_name, Patient.given_name, Patient.id)
                                       .limit(limit)))
    ids = [p.id for p in patients]
    counts: dict[int, tuple[int, int]] = {}
    pathways: dict[int, list[str]] = {pid: [] for pid in ids}
    if ids:
        overdue = func.sum(case((and_(WorkItem.due_at.is_not(None), WorkItem.due_at < now), 1), else_=0))
        for pid, total, late in db.session.execute(
                select(WorkItem.patient_id, func.count(WorkItem.id), overdue)
                .where(WorkItem.patient_id.in_(ids), WorkItem.status.in_(OPEN_STATUSES))
                .group_by(WorkItem.patient_id)):
            counts[pid] = (int(total), int(late or 0))
        for pid, title in db.session.execute(
                select(PathwayInstance.patient_id, PathwayVersion.title)
                .join(PathwayVersion, PathwayVersion.id == PathwayInstance.version_id)
                .where(PathwayInstance.patient_id.in_(ids), PathwayInstance.status.in_(RUNNING_STATUSES))
                .order_by(PathwayInstance.started_at)):
            pathways[pid].append(title)
    audit.record(actor, "patient.listed", at=now, object_type="patient_list",
                 details={"patients": ids, "count": len(ids), "search": bool(text)})
    return [PatientSummary(p, pathways[p.id], *counts.get(p.id, (0, 0))) for p in patients]


def enrol_choices() -> list[EnrolChoice]:
    """The latest active version of each deployed pathway, with its anchors."""
    latest = select(PathwayVersion.key, func.max(PathwayVersion.version).label("v")).where(
        PathwayVersion.status == VersionStatus.ACTIVE.value).group_by(PathwayVersion.key).subquery()
    versions = db.session.scalars(select(PathwayVersion).join(
        latest, and_(latest.c.key == PathwayVersion.key, latest.c.v == PathwayVersion.version))
        .order_by(PathwayVersion.title))
    return [EnrolChoice(v.key, v.title, v.version, list(v.anchors or [])) for v in versions]


def get_patient(actor: Actor, patient_id: int, *, action: str, clock: Clock) -> Patient:
    """The patient, access-checked (AccessDenied, a 404, for anyone outside the team); not audited."""
    access.require_patient_access(actor, patient_id, action=action, clock=clock)
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"no patient {patient_id}")
    return patient


def _as_date(value: object, zone: ZoneInfo) -> date | datetime | str:
    """An anchor as stored (ISO text) as a date or an aware date-time (the patient's zone if none); else text."""
    text = str(value)
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def patient_instances(patient_id: int) -> list[InstanceSummary]:
    """Running pathways first (newest first), then ended ones."""
    instances = db.session.scalars(select(PathwayInstance).where(PathwayInstance.patient_id == patient_id)
                                   .order_by(PathwayInstance.started_at.desc(), PathwayInstance.id.desc()))
    out = []
    zone = patient_zone(patient_id)
    for instance in instances:
        anchors = {k: _as_date(v, zone) for k, v in (instance.context or {}).items()
                   if k in (instance.version.anchors or []) or k.startswith("date_")}
        out.append(InstanceSummary(instance, anchors))
    return sorted(out, key=lambda s: not s.running)


def get_patient_record(actor: Actor, patient_id: int, *, clock: Clock) -> PatientRecord:
    """Identity, contact preferences, care team, pathways and enrolment choices (audited "patient.viewed")."""
    patient = get_patient(actor, patient_id, action="patient.viewed", clock=clock)
    now = clock.now()
    coordinator = is_site_coordinator(actor, patient)
    record = PatientRecord(patient=patient, ins_display=patient.ins if coordinator else masked_ins(patient.ins),
                           care_team=list_members(patient.id, at=now), instances=patient_instances(patient.id),
                           enrol_choices=enrol_choices(), is_site_coordinator=coordinator)
    audit.record(actor, "patient.viewed", at=now, patient_id=patient.id, object_type="patient", object_id=patient.id,
                 details={"ins_shown": bool(coordinator and patient.ins)})
    return record


def main_anchor(instance: PathwayInstance) -> datetime | None:
    """The instance's main clinical anchor (the version's first anchor date) as an aware datetime, for J+N."""
    anchors = list(instance.version.anchors or [])
    value = (instance.context or {}).get(anchors[0]) if anchors else None
    if not isinstance(value, str):
        return None
    zone = patient_zone(instance.patient_id)
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0, 0), zone)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
