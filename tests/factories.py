"""Factory helpers for tests: a care team around a patient, deployed test pathways."""

from __future__ import annotations

from pathlib import Path

from engine.clock import Clock
from engine.db import db
from engine.models import Patient, Professional
from engine.services.pathways import deploy_pathway, read_pathway_source
from engine.services.people import actor_for, add_care_team_member, create_patient, create_professional
from engine.types import Actor

TESTS = Path(__file__).resolve().parent


def deploy_file(path: Path, clock: Clock) -> int:
    result = deploy_pathway(read_pathway_source(path), actor=Actor.cli(), clock=clock)
    db.session.commit()
    return result.version.id


def deploy_test_bpmn(name: str, clock: Clock) -> int:
    return deploy_file(TESTS / "bpmn" / f"{name}.bpmn", clock)


def make_team(clock: Clock, roles: list[str], *, identifier: str = "P-001", site: str = "MSP Test"
              ) -> tuple[Patient, dict[str, Professional]]:
    """A patient and one professional per role in the patient's care team (login = role code)."""
    now = clock.now()
    patient = create_patient(identifier, "Martin", "Jeanne", at=now, phone="+33600000000", site=site)
    team = {}
    for role in roles:
        login = role if identifier == "P-001" else f"{role}-{identifier}"
        pro = db.session.query(Professional).filter_by(login=login).one_or_none()
        if pro is None:
            pro = create_professional(login, f"Dr {role}", [role], at=now, site=site, password="demo")
        if role != "patient":
            add_care_team_member(patient, pro, role, start=now)
        team[role] = pro
    db.session.commit()
    return patient, team


def actor(pro: Professional) -> Actor:
    return actor_for(pro)
