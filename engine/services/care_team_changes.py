"""Changing a patient's care team from outside (the API): add a member, access-checked and audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from engine.clock import Clock
from engine.db import db
from engine.errors import InvalidInput, InvalidTransition, NotFound
from engine.models import CareTeamMember, Patient, Professional
from engine.services import access, audit
from engine.services.people import add_care_team_member
from engine.types import Actor


def add_member(actor: Actor, patient_id: int, login: str, role_code: str, *, clock: Clock,
               start: datetime | None = None, end: datetime | None = None) -> CareTeamMember:
    """Add a professional to a patient's care team for a role and a period (default: from now, open-ended).

    The actor must see the patient (care team, or the site's coordinator). The professional must hold the
    role; the same professional cannot hold the same role twice over overlapping periods. Flushes, audits.
    """
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"no patient {patient_id}")
    access.require_patient_access(actor, patient.id, action="care_team.member_added", clock=clock)
    pro = db.session.scalar(select(Professional).where(Professional.login == login))
    if pro is None or not pro.active:
        raise InvalidInput(f"no active professional with login '{login}'", {"professional": "identifiant inconnu"})
    if role_code not in pro.role_codes:
        raise InvalidInput(f"{pro.login} does not hold the role '{role_code}'",
                           {"role": f"{pro.login} n'a pas ce rôle"})
    start = start or clock.now()
    if end is not None and end <= start:
        raise InvalidInput("the period must end after it starts", {"end": "doit être après le début"})
    for other in db.session.scalars(select(CareTeamMember).where(
            CareTeamMember.patient_id == patient.id, CareTeamMember.professional_id == pro.id,
            CareTeamMember.role_code == role_code)):
        if (other.period_end is None or start < other.period_end) and (end is None or other.period_start < end):
            raise InvalidTransition(f"{pro.login} is already '{role_code}' in this care team over that period")
    member = add_care_team_member(patient, pro, role_code, start=start, end=end)
    audit.record(actor, "care_team.member_added", at=clock.now(), patient_id=patient.id, object_type="care_team_member",
                 object_id=member.id, details={"professional": pro.login, "role": role_code})
    return member
