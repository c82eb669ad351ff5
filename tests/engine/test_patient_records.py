"""Patient record services: my patients, the masked INS, the timeline's sources, coordinator-only reads."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.db import db
from engine.errors import NotPermitted
from engine.models import AuditEvent
from engine.services.coordination import coordination_overview, patient_access_log
from engine.services.patient_records import get_patient_record, list_patients, masked_ins
from engine.services.patient_timeline import patient_timeline
from engine.services.people import create_patient, create_professional
from engine.types import Actor
from tests.factories import actor, make_team


def test_list_patients_shows_the_care_team_patients_and_the_site_ones_to_a_coordinator(app, clock):
    patient, team = make_team(clock, ["infirmier"])
    other = create_patient("P-002", "Durand", "Paul", at=clock.now(), site="MSP Test")
    coordinator = create_professional("coord", "Coord", ["coordinateur"], at=clock.now(), site="MSP Test")
    db.session.commit()
    assert [s.patient.id for s in list_patients(actor(team["infirmier"]), clock=clock)] == [patient.id]
    assert [s.patient.id for s in list_patients(actor(coordinator), clock=clock)] == [other.id, patient.id]
    assert [s.patient.id for s in list_patients(actor(coordinator), clock=clock, search="durand")] == [other.id]


def test_ins_is_masked_except_for_the_site_coordinator(app, clock):
    patient, team = make_team(clock, ["infirmier", "coordinateur"])
    patient.ins = "1234567890123"
    db.session.commit()
    assert masked_ins("1234567890123") == "•••••••••••23"
    assert get_patient_record(actor(team["infirmier"]), patient.id, clock=clock).ins_display == "•••••••••••23"
    assert get_patient_record(actor(team["coordinateur"]), patient.id, clock=clock).ins_display == "1234567890123"
    shown = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "patient.viewed")).all()
    assert [d["ins_shown"] for d in shown] == [False, True]


def test_timeline_leaves_out_denied_reads_and_is_audited(app, clock):
    patient, team = make_team(clock, ["infirmier"])
    timeline = patient_timeline(actor(team["infirmier"]), patient.id, clock=clock)
    assert timeline.entries == []
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.patient_id == patient.id)) == \
        "patient.timeline_viewed"


def test_coordinator_reads_are_refused_to_other_professionals(app, clock):
    patient, team = make_team(clock, ["infirmier"])
    with pytest.raises(NotPermitted):
        coordination_overview(actor(team["infirmier"]), clock=clock)
    with pytest.raises(NotPermitted):
        patient_access_log(actor(team["infirmier"]), patient.id, clock=clock)
    assert patient_access_log(Actor.cli(), patient.id, clock=clock).total == 0
