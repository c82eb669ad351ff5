"""External events (a lab result) delivered to a waiting pathway: the data steers it; stray messages are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.errors import AccessDenied, InvalidInput, InvalidTransition
from engine.models import AuditEvent, PathwayInstance, WorkItem
from engine.services.inbox import list_inbox
from engine.services.instances import enrol_patient, resume_instance, suspend_instance
from engine.services.messages import deliver_message
from engine.services.people import create_patient, create_professional
from engine.types import Actor
from tests.factories import actor, deploy_test_bpmn, make_team

CLI = Actor.cli()
LAB = Actor.system("laboratoire")


def _enrol(clock):
    """message_result for P-001: waits for 'resultat_inr'; INR above seuil_inr (3.0) → urgent task for the GP."""
    deploy_test_bpmn("message_result", clock)
    patient, team = make_team(clock, ["infirmier", "medecin_traitant"])
    outcome = enrol_patient(patient.identifier, "message_result", actor=CLI, clock=clock)
    db.session.commit()
    return patient, team, db.session.get(PathwayInstance, outcome.instance_id)


def _inbox(pro, clock) -> list[tuple[str, str]]:
    return [(i.element_id, i.priority) for i in list_inbox(actor(pro), clock=clock)]


def _snapshot(instance_id: int) -> tuple:
    db.session.expire_all()
    instance = db.session.get(PathwayInstance, instance_id)
    return (instance.status, instance.lock_version, instance.state,
            db.session.scalar(select(func.count()).select_from(AuditEvent)),
            db.session.scalar(select(func.count()).select_from(WorkItem)))


def test_high_inr_result_opens_urgent_gp_task_when_lab_message_arrives(app, clock):
    patient, team, instance = _enrol(clock)
    assert _inbox(team["medecin_traitant"], clock) == [] and _inbox(team["infirmier"], clock) == []
    outcomes = deliver_message(patient.identifier, "resultat_inr", {"inr": 4.2, "unite": "INR"}, actor=LAB,
                               clock=clock)
    db.session.commit()
    assert [(o.instance_id, o.status) for o in outcomes] == [(instance.id, "active")]
    assert _inbox(team["medecin_traitant"], clock) == [("adapter_traitement", "urgent")]
    assert _inbox(team["infirmier"], clock) == []
    assert outcomes[0].opened_work_items == tuple(i.id for i in list_inbox(actor(team["medecin_traitant"]),
                                                                           clock=clock))


def test_normal_inr_result_opens_nurse_task_when_lab_message_arrives(app, clock):
    patient, team, instance = _enrol(clock)
    deliver_message(patient.identifier, "resultat_inr", {"inr": 2.4}, actor=LAB, clock=clock)
    db.session.commit()
    assert _inbox(team["infirmier"], clock) == [("noter_resultat", "routine")]
    assert _inbox(team["medecin_traitant"], clock) == []


def test_delivery_is_audited_with_payload_keys_only_when_message_is_caught(app, clock):
    patient, team, instance = _enrol(clock)
    deliver_message(str(patient.id), "resultat_inr", {"inr": 4.2, "labo": "Biogroup"}, actor=LAB, clock=clock)
    db.session.commit()
    delivered = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "message.delivered"))
    assert (delivered.actor_label, delivered.patient_id, delivered.instance_id, delivered.object_id) == (
        "laboratoire", patient.id, instance.id, "resultat_inr")
    assert delivered.details == {"keys": ["inr", "labo"]}  # which fields came, never the values
    caught = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "message.caught"))
    assert (caught.instance_id, caught.object_id) == (instance.id, "attente_inr")


def test_care_team_professional_may_deliver_message_when_result_is_entered_by_hand(app, clock):
    patient, team, instance = _enrol(clock)
    nurse = team["infirmier"]
    deliver_message(patient.identifier, "resultat_inr", {"inr": 3.5}, actor=actor(nurse), clock=clock)
    db.session.commit()
    assert _inbox(team["medecin_traitant"], clock) == [("adapter_traitement", "urgent")]
    delivered = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "message.delivered"))
    assert delivered.actor_id == nurse.id


def test_message_is_refused_and_nothing_stored_when_no_instance_waits_for_that_name(app, clock):
    patient, team, instance = _enrol(clock)
    before = _snapshot(instance.id)
    with pytest.raises(InvalidTransition) as err:
        deliver_message(patient.identifier, "resultat_hba1c", {"hba1c": 8.1}, actor=LAB, clock=clock)
    assert "resultat_hba1c" in str(err.value) and patient.identifier in str(err.value)
    db.session.commit()  # even if the caller commits, the refusal wrote nothing
    assert _snapshot(instance.id) == before
    deliver_message(patient.identifier, "resultat_inr", {"inr": 2.0}, actor=LAB, clock=clock)  # still waiting
    db.session.commit()
    assert _inbox(team["infirmier"], clock) == [("noter_resultat", "routine")]


def test_message_is_refused_when_patient_has_no_running_pathway(app, clock):
    deploy_test_bpmn("message_result", clock)
    patient = create_patient("P-042", "Petit", "Louise", at=clock.now(), site="MSP Test")
    db.session.commit()
    with pytest.raises(InvalidTransition, match="no pathway of patient P-042 is waiting for message 'resultat_inr'"):
        deliver_message("P-042", "resultat_inr", {"inr": 4.0}, actor=LAB, clock=clock)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.patient_id == patient.id)) == 0


def test_message_is_refused_when_instance_already_received_it(app, clock):
    patient, team, instance = _enrol(clock)
    deliver_message(patient.identifier, "resultat_inr", {"inr": 2.0}, actor=LAB, clock=clock)
    db.session.commit()
    before = _snapshot(instance.id)
    with pytest.raises(InvalidTransition, match="resultat_inr"):
        deliver_message(patient.identifier, "resultat_inr", {"inr": 5.0}, actor=LAB, clock=clock)
    db.session.rollback()
    assert _snapshot(instance.id) == before
    assert _inbox(team["medecin_traitant"], clock) == []  # the late high value did not reroute anything


def test_message_waits_when_instance_is_suspended_and_is_accepted_after_resume(app, clock):
    patient, team, instance = _enrol(clock)
    suspend_instance(instance.id, actor=CLI, clock=clock)
    db.session.commit()
    before = _snapshot(instance.id)
    with pytest.raises(InvalidTransition, match="resultat_inr"):
        deliver_message(patient.identifier, "resultat_inr", {"inr": 4.0}, actor=LAB, clock=clock)
    db.session.rollback()
    assert _snapshot(instance.id) == before
    resume_instance(instance.id, actor=CLI, clock=clock)
    db.session.commit()
    deliver_message(patient.identifier, "resultat_inr", {"inr": 4.0}, actor=LAB, clock=clock)
    db.session.commit()
    assert _inbox(team["medecin_traitant"], clock) == [("adapter_traitement", "urgent")]


@pytest.mark.parametrize(("name", "payload"), [
    ("", {"inr": 2.0}),
    ("resultat inr", {"inr": 2.0}),
    ("resultat_inr'; DROP", {"inr": 2.0}),
    ("resultat_inr", [2.0]),
    ("resultat_inr", "2.0"),
])
def test_message_is_refused_when_name_or_payload_is_malformed(app, clock, name, payload):
    patient, team, instance = _enrol(clock)
    before = _snapshot(instance.id)
    with pytest.raises(InvalidInput):
        deliver_message(patient.identifier, name, payload, actor=LAB, clock=clock)
    db.session.rollback()
    assert _snapshot(instance.id) == before


def test_message_is_answered_not_found_when_sender_is_outside_care_team(app, clock):
    patient, team, instance = _enrol(clock)
    outsider = create_professional("mt-ext", "Dr Ailleurs", ["medecin_traitant"], at=clock.now(), site="Autre")
    db.session.commit()
    before = _snapshot(instance.id)
    with pytest.raises(AccessDenied):
        deliver_message(patient.identifier, "resultat_inr", {"inr": 4.0}, actor=actor(outsider), clock=clock)
    db.session.rollback()
    assert _snapshot(instance.id) == before
