"""Helpers for the patient-record web tests: a care team, an outsider, a small pathway enrolled."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from engine.clock import ManualClock
from engine.db import db
from engine.models import AuditEvent, Patient, Professional
from engine.services.instances import enrol_patient
from engine.services.people import create_professional
from engine.types import Actor
from tests.factories import deploy_test_bpmn, make_team

ROLES = ["infirmier", "chirurgien", "coordinateur"]
SURGERY = date(2026, 11, 16)  # the tests' START day (Monday 16 November 2026, 08:00 Paris)


def team_and_outsider(clock: ManualClock) -> tuple[Patient, dict[str, Professional], Professional]:
    """P-001 with a nurse, a surgeon and a coordinator (logins = role codes); ``intrus``: a nurse elsewhere."""
    patient, team = make_team(clock, ROLES)
    outsider = create_professional("intrus", "Dr Intrus", ["infirmier"], at=clock.now(), site="Autre site",
                                   password="demo")
    db.session.commit()
    return patient, team, outsider


def enrol_appel_douleur(patient: Patient, clock: ManualClock, day: date = SURGERY) -> int:
    deploy_test_bpmn("appel_douleur", clock)
    outcome = enrol_patient(patient.id, "appel_douleur", context={"date_chirurgie": day.isoformat()},
                            actor=Actor.cli(), clock=clock)
    db.session.commit()
    return outcome.instance_id


def audit_actions(patient_id: int, *, outcome: str | None = None, actor_label: str | None = None) -> list[str]:
    query = select(AuditEvent.action).where(AuditEvent.patient_id == patient_id).order_by(AuditEvent.id)
    if outcome:
        query = query.where(AuditEvent.outcome == outcome)
    if actor_label:
        query = query.where(AuditEvent.actor_label == actor_label)
    return list(db.session.scalars(query))
