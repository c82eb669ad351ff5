"""Coordinator views: all open work of my site's patients (late first), counts per pathway and per step,
who has what; and a patient's access log. Coordinators only; every read is audited.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from engine.clock import Clock
from engine.db import db
from engine.errors import NotPermitted
from engine.models import AuditEvent, PathwayInstance, PathwayVersion, Patient, Professional, WorkItem
from engine.models.work_item import OPEN_STATUSES
from engine.services import audit
from engine.services.patient_records import get_patient, is_site_coordinator
from engine.types import Actor


@dataclass(frozen=True)
class OpenWork:
    item: WorkItem
    patient: Patient
    pathway_key: str
    pathway_title: str
    assignee_name: str | None
    overdue: bool


@dataclass(frozen=True)
class StepCount:
    pathway_key: str
    pathway_title: str
    element_id: str
    title: str
    open: int
    overdue: int


@dataclass
class CoordinationOverview:
    items: list[OpenWork] = field(default_factory=list)
    per_pathway: list[tuple[str, str, int, int]] = field(default_factory=list)  # key, title, open, overdue
    per_step: list[StepCount] = field(default_factory=list)
    per_assignee: list[tuple[str, int, int]] = field(default_factory=list)  # name, open, overdue
    per_queue: list[tuple[str, int, int]] = field(default_factory=list)  # role code, open, overdue (unassigned)
    pathways: list[tuple[str, str]] = field(default_factory=list)  # the filter's choices: key, title
    truncated: bool = False


def require_coordinator(actor: Actor) -> str:
    """The coordinator's site, or NotPermitted (403: the coordination pages are no patient's data)."""
    if not actor.is_professional or "coordinateur" not in actor.roles or not actor.site:
        raise NotPermitted("coordination views are for the site's coordinators")
    return actor.site


def coordination_overview(actor: Actor, *, clock: Clock, pathway_key: str | None = None, limit: int = 500
                          ) -> CoordinationOverview:
    """Open work items of the site's patients, late first (most late first), then by due time; with counts.

    Audited "coordination.viewed" with the patients listed.
    """
    site = require_coordinator(actor)
    now = clock.now()
    query = (select(WorkItem, Patient, PathwayVersion.key, PathwayVersion.title)
             .join(Patient, Patient.id == WorkItem.patient_id)
             .join(PathwayInstance, PathwayInstance.id == WorkItem.instance_id)
             .join(PathwayVersion, PathwayVersion.id == PathwayInstance.version_id)
             .where(Patient.site == site, WorkItem.status.in_(OPEN_STATUSES)))
    if pathway_key:
        query = query.where(PathwayVersion.key == pathway_key)
    rows = db.session.execute(query.order_by(WorkItem.due_at.is_(None), WorkItem.due_at, WorkItem.id)
                              .limit(limit + 1)).all()
    overview = CoordinationOverview(truncated=len(rows) > limit)
    rows = rows[:limit]
    assignees = {r[0].assignee_id for r in rows if r[0].assignee_id}
    names = {pid: name for pid, name in db.session.execute(select(Professional.id, Professional.full_name).where(
        Professional.id.in_(assignees)))} if assignees else {}
    for item, patient, key, title in rows:
        late = item.due_at is not None and item.due_at < now
        overview.items.append(OpenWork(item, patient, key, title, names.get(item.assignee_id), late))
    # late first: due_at ascending already puts the most late first among the late ones
    overview.items.sort(key=lambda w: not w.overdue)
    _count(overview)
    overview.pathways = [(k, t) for k, t in db.session.execute(
        select(PathwayVersion.key, func.max(PathwayVersion.title)).group_by(PathwayVersion.key)
        .order_by(func.max(PathwayVersion.title)))]
    audit.record(actor, "coordination.viewed", at=now, object_type="coordination",
                 details={"patients": sorted({w.patient.id for w in overview.items}), "count": len(overview.items),
                          "pathway": pathway_key})
    return overview


def _count(overview: CoordinationOverview) -> None:
    def tally(key_of: Callable[[OpenWork], Any]) -> tuple[Counter[Any], Counter[Any]]:
        total: Counter[Any] = Counter()
        late: Counter[Any] = Counter()
        for w in overview.items:
            key = key_of(w)
            if key is None:
                continue
            total[key] += 1
            late[key] += int(w.overdue)
        return total, late

    total, late = tally(lambda w: (w.pathway_key, w.pathway_title))
    overview.per_pathway = sorted(((k, t, n, late[(k, t)]) for (k, t), n in total.items()),
                                  key=lambda c: (-c[3], -c[2], c[1]))
    total, late = tally(lambda w: (w.pathway_key, w.pathway_title, w.item.element_id, w.item.title))
    overview.per_step = sorted((StepCount(*k, n, late[k]) for k, n in total.items()),
                               key=lambda c: (-c.overdue, -c.open, c.pathway_title, c.title))
    total, late = tally(lambda w: w.assignee_name)
    overview.per_assignee = sorted(((str(k), n, late[k]) for k, n in total.items()), key=lambda c: (-c[2], -c[1], c[0]))
    total, late = tally(lambda w: w.item.role_code if w.item.assignee_id is None else None)
    overview.per_queue = sorted(((str(k), n, late[k]) for k, n in total.items()), key=lambda c: (-c[2], -c[1], c[0]))


@dataclass(frozen=True)
class AccessLogPage:
    events: list[AuditEvent]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def patient_access_log(actor: Actor, patient_id: int, *, clock: Clock, page: int = 1, per_page: int = 50
                       ) -> AccessLogPage:
    """The patient's audit events, newest first, paginated — for the coordinators of the patient's site.

    Someone who may not see the patient gets AccessDenied (404, audited); a care-team member who is not a
    coordinator of the site already knows the patient, so they get NotPermitted (403). Audited
    "patient.access_log_viewed" (the read itself appears in the log from the next page view on).
    """
    patient = get_patient(actor, patient_id, action="patient.access_log_viewed", clock=clock)
    if not is_site_coordinator(actor, patient):
        raise NotPermitted("the access log is for the coordinators of the patient's site")
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.patient_id == patient.id)) or 0
    events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient.id)
                                     .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                                     .offset((page - 1) * per_page).limit(per_page)))
    audit.record(actor, "patient.access_log_viewed", at=clock.now(), patient_id=patient.id, object_type="audit_log",
                 object_id=patient.id, details={"page": page})
    return AccessLogPage(events, page, per_page, int(total))

