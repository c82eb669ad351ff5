"""Who may see and act on a patient's data: the care team, and the site's coordinators."""

from __future__ import annotations

from engine.clock import Clock
from engine.db import db
from engine.errors import AccessDenied
from engine.models import Patient
from engine.services.people import CareTeamNow, is_in_care_team
from engine.types import Actor


def can_access_patient(actor: Actor, patient_id: int, *, clock: Clock, team: CareTeamNow | None = None) -> bool:
    """``team``: the patient's care team now, when the caller has it (saves a query)."""
    if actor.is_trusted_operator:
        return True
    if actor.kind == "patient":  # a patient through a one-time link: their own record only
        return actor.patient_id is not None and actor.patient_id == patient_id
    if not actor.is_professional or actor.professional_id is None:
        return False
    if team.includes(actor.professional_id) if team is not None else is_in_care_team(
            patient_id, actor.professional_id, clock.now()):
        return True
    if "coordinateur" in actor.roles and actor.site:
        patient = db.session.get(Patient, patient_id)
        return patient is not None and patient.site == actor.site
    return False


def require_patient_access(actor: Actor, patient_id: int, *, action: str, clock: Clock,
                           team: CareTeamNow | None = None) -> None:
    """Raise AccessDenied (a NotFound) unless the actor may work on this patient's data."""
    if not can_access_patient(actor, patient_id, clock=clock, team=team):
        raise AccessDenied(f"no such patient or pathway for {actor.label}", actor_label=actor.label,
                           actor_kind=actor.kind, actor_id=actor.professional_id, action=action,
                           patient_id=patient_id)
