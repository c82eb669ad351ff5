"""Care teams from the record: list a patient's members, add a professional for a role, end a membership.

Who may edit: anyone who may see the patient (a member of the care team now, or a coordinator of the
patient's site) and the operator (CLI/system). Care is organised by the team itself in a maison de santé, and
the coordinator must be able to repair a team nobody is in any more; a patient (one-time link) may not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from engine.clock import Clock
from engine.db import db
from engine.errors import InvalidInput, InvalidTransition, NotFound, NotPermitted
from engine.models import CareTeamMember, Professional, Role, WorkItem, WorkItemStatus
from engine.models.work_item import OPEN_STATUSES
from engine.services import access, audit
from engine.types import Actor

# Field errors of add_member (``InvalidInput.errors`` values): fixed sentences, so the web app can translate them.
UNKNOWN_PROFESSIONAL = "unknown or inactive professional"
UNKNOWN_ROLE = "unknown role"
ROLE_NOT_HELD = "the professional does not hold this role"
EMPTY_PERIOD = "the end must be after the start"
ALREADY_MEMBER = "already in the care team for this role over this period"


class MembershipConflict(InvalidTransition):
    """The same professional already holds this role in the care team over (part of) the period: a conflict
    with what is recorded (409), with the field it concerns in ``errors``."""

    def __init__(self, message: str, errors: dict[str, str]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class CareTeamEntry:
    """One membership as the record shows it."""

    id: int
    professional_id: int
    professional_name: str
    professional_login: str
    role_code: str
    role_label: str
    period_start: datetime
    period_end: datetime | None
    active: bool
    upcoming: bool


def _require_editor(actor: Actor, patient_id: int, action: str, clock: Clock) -> None:
    access.require_patient_access(actor, patient_id, action=action, clock=clock)
    if actor.kind == "patient":
        raise NotPermitted("a patient cannot change their care team")


def role_labels() -> dict[str, str]:
    """Role code -> French label, from the catalogue in the database."""
    return {r.code: r.label_fr for r in db.session.scalars(select(Role).order_by(Role.label_fr))}


def list_members(patient_id: int, *, at: datetime) -> list[CareTeamEntry]:
    """Every membership of the patient, current first, then upcoming, then ended (no audit: the caller's
    read of the record is the audited one)."""
    labels = role_labels()
    rows = db.session.execute(
        select(CareTeamMember, Professional).join(Professional, Professional.id == CareTeamMember.professional_id)
        .where(CareTeamMember.patient_id == patient_id).order_by(CareTeamMember.period_start, CareTeamMember.id))
    entries = [CareTeamEntry(m.id, p.id, p.full_name, p.login, m.role_code, labels.get(m.role_code, m.role_code),
                             m.period_start, m.period_end, m.is_active(at), m.period_start > at)
               for m, p in rows]
    return sorted(entries, key=lambda e: (not e.active, not e.upcoming))


def candidate_professionals(site: str | None) -> list[Professional]:
    """Active professionals who may join a team of ``site`` (the site's, or everyone when there is no site)."""
    query = select(Professional).where(Professional.active.is_(True))
    if site:
        query = query.where(Professional.site == site)
    return list(db.session.scalars(query.order_by(Professional.full_name)))


def _overlaps(patient_id: int, professional_id: int, role_code: str, start: datetime, end: datetime | None) -> bool:
    rows = db.session.scalars(select(CareTeamMember).where(
        CareTeamMember.patient_id == patient_id, CareTeamMember.professional_id == professional_id,
        CareTeamMember.role_code == role_code))
    for m in rows:
        if m.period_end is not None and m.period_end <= m.period_start:
            continue  # removed before it began
        if (m.period_end is None or start < m.period_end) and (end is None or m.period_start < end):
            return True
    return False


def add_member(patient_id: int, professional_id: int | None, role_code: str, *, start: datetime,
               end: datetime | None = None, actor: Actor, clock: Clock) -> CareTeamMember:
    """Add a professional to the patient's care team for a role and period (flushes, audits).

    InvalidInput (with per-field ``errors``: professional, role, start, end) when the professional does not
    exist or does not hold the role or the period is empty; MembershipConflict when the same membership
    already covers (part of) the period.
    """
    _require_editor(actor, patient_id, "care_team.member_added", clock)
    errors: dict[str, str] = {}
    pro = db.session.get(Professional, professional_id) if professional_id else None
    if pro is None or not pro.active:
        errors["professional"] = UNKNOWN_PROFESSIONAL
    if role_code not in role_labels() or role_code == "patient":
        errors["role"] = UNKNOWN_ROLE
    elif pro is not None and role_code not in pro.role_codes:
        errors["role"] = ROLE_NOT_HELD
    if end is not None and end <= start:
        errors["end"] = EMPTY_PERIOD
    if errors:
        raise InvalidInput("the care team member was not added: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                           errors)
    assert pro is not None
    if _overlaps(patient_id, pro.id, role_code, start, end):
        raise MembershipConflict(f"{pro.login} is already '{role_code}' in this care team over that period",
                                 {"professional": ALREADY_MEMBER})
    member = CareTeamMember(patient_id=patient_id, professional_id=pro.id, role_code=role_code,
                            period_start=start, period_end=end)
    db.session.add(member)
    db.session.flush()
    audit.record(actor, "care_team.member_added", at=clock.now(), patient_id=patient_id,
                 object_type="care_team_member", object_id=member.id,
                 details={"professional_id": pro.id, "role": role_code, "start": start.isoformat(),
                          "end": end.isoformat() if end else None})
    db.session.flush()
    return member


def professional_id_for_login(login: str) -> int | None:
    """The id of the active professional with this login, if any (for callers that name people by login)."""
    return db.session.scalar(select(Professional.id).where(Professional.login == login, Professional.active))


def end_member(patient_id: int, member_id: int, *, actor: Actor, clock: Clock, at: datetime | None = None
               ) -> CareTeamMember:
    """End a membership now (or at ``at``); one that had not begun is removed (its period becomes empty).

    The member's open work items for this patient and role go back to the role's queue. Flushes, audits.
    """
    _require_editor(actor, patient_id, "care_team.member_ended", clock)
    member = db.session.get(CareTeamMember, member_id)
    if member is None or member.patient_id != patient_id:
        raise NotFound(f"no care team member {member_id} for this patient")
    now = clock.now()
    end = at or now
    if member.period_end is not None and member.period_end <= end:
        raise InvalidTransition("this membership has already ended")
    member.period_end = max(end, member.period_start)
    released = 0
    if member.period_end <= now:
        released = db.session.execute(
            update(WorkItem).where(WorkItem.patient_id == patient_id, WorkItem.assignee_id == member.professional_id,
                                   WorkItem.role_code == member.role_code, WorkItem.status.in_(OPEN_STATUSES))
            .values(assignee_id=None, status=WorkItemStatus.OPEN.value, claimed_at=None)
            .execution_options(synchronize_session="fetch")).rowcount or 0
    audit.record(actor, "care_team.member_ended", at=now, patient_id=patient_id,
                 object_type="care_team_member", object_id=member.id,
                 details={"professional_id": member.professional_id, "role": member.role_code,
                          "end": member.period_end.isoformat(), "work_items_released": released})
    db.session.flush()
    return member
