"""The cohort of a version: per element, instances waiting there and how many are overdue; the patients at one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.clock import ManualClock
from engine.db import db
from engine.errors import NotFound, NotPermitted
from engine.models import AuditEvent, PathwayInstance, WorkItem
from engine.services.cohort import patients_at_element, version_cohort, version_summaries
from engine.services.inbox import complete_work_item
from engine.services.instances import enrol_patient
from engine.services.people import create_patient
from engine.types import Actor
from tests.engine.test_incidents import script_in_error
from tests.engine.test_version_migration import care_manager, deploy_xml

CLI = Actor.cli()
KEY = "cohorte_ops"


def cohort_xml() -> str:
    """Three branches at once: the nurse's assessment (due in 8 h), a three-day timer, a lab result message."""
    lane = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in (
        "start", "split", "bilan", "fin_bilan", "relance", "controle", "fin_controle", "attente", "noter", "fin_noter"))
    return f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_cohorte" targetNamespace="http://parcours.test">
  <bpmn:message id="Message_resultat" name="resultat_labo"/>
  <bpmn:process id="{KEY}" name="Cohorte (opérations)" isExecutable="true">
    <bpmn:laneSet><bpmn:lane id="Lane_infirmier" name="infirmier">{lane}</bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="split"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f6</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="bilan" name="Bilan infirmier"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="due" value="PT8H"/></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="fin_bilan"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:intermediateCatchEvent id="relance" name="Trois jours plus tard"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>"P3D"</bpmn:timeDuration>
      </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="controle" name="Contrôle"><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="fin_controle"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:intermediateCatchEvent id="attente" name="Résultat du laboratoire"><bpmn:incoming>f6</bpmn:incoming>
      <bpmn:outgoing>f7</bpmn:outgoing><bpmn:messageEventDefinition id="def_attente" messageRef="Message_resultat"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="noter" name="Noter le résultat"><bpmn:incoming>f7</bpmn:incoming>
      <bpmn:outgoing>f8</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="fin_noter"><bpmn:incoming>f8</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split"/>
    <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="bilan"/>
    <bpmn:sequenceFlow id="f2" sourceRef="bilan" targetRef="fin_bilan"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="relance"/>
    <bpmn:sequenceFlow id="f4" sourceRef="relance" targetRef="controle"/>
    <bpmn:sequenceFlow id="f5" sourceRef="controle" targetRef="fin_controle"/>
    <bpmn:sequenceFlow id="f6" sourceRef="split" targetRef="attente"/>
    <bpmn:sequenceFlow id="f7" sourceRef="attente" targetRef="noter"/>
    <bpmn:sequenceFlow id="f8" sourceRef="noter" targetRef="fin_noter"/>
  </bpmn:process>
</bpmn:definitions>'''


def cohort(clock: ManualClock) -> tuple[int, dict[str, int]]:
    """Martin, Durand, Petit at the site, Leroy elsewhere, all enrolled now; Petit's assessment done."""
    version_id = deploy_xml(cohort_xml(), clock, filename=f"{KEY}.bpmn")
    patients = {}
    for identifier, family, site in (("P-1", "Martin", "MSP Test"), ("P-2", "Durand", "MSP Test"),
                                     ("P-3", "Petit", "MSP Test"), ("P-4", "Leroy", "Autre site")):
        patient = create_patient(identifier, family, "Anne", at=clock.now(), site=site)
        patients[family] = enrol_patient(patient.id, KEY, actor=CLI, clock=clock).instance_id
    db.session.commit()
    clock.advance(timedelta(hours=2))
    petit = db.session.scalar(select(WorkItem).where(WorkItem.instance_id == patients["Petit"]))
    complete_work_item(petit.id, {}, actor=CLI, clock=clock)
    db.session.commit()
    return version_id, patients


def _counts(actor: Actor, version_id: int, clock: ManualClock) -> dict[str, tuple[int, int]]:
    return {e.element_id: (e.waiting, e.overdue) for e in version_cohort(actor, version_id, clock=clock).elements}


def test_counts_per_element_of_the_site_instances_with_overdue_on_the_clock(app, clock):
    version_id, _patients = cohort(clock)
    manager = care_manager(clock)
    assert _counts(manager, version_id, clock) == {"bilan": (2, 0), "relance": (3, 0), "attente": (3, 0)}
    clock.advance(timedelta(hours=7))  # 9 h after enrolment: the assessments (due in 8 h) are late
    assert _counts(manager, version_id, clock) == {"bilan": (2, 2), "relance": (3, 0), "attente": (3, 0)}
    clock.advance(timedelta(days=3))  # the timers fell due and nobody fired them: late too
    assert _counts(manager, version_id, clock)["relance"] == (3, 3)
    result = version_cohort(manager, version_id, clock=clock)
    assert (result.running, result.in_error) == (3, 0)
    assert {e.element_id: e.title for e in result.elements}["attente"] == "Résultat du laboratoire"


def test_a_care_manager_of_another_site_counts_only_their_own_patients(app, clock):
    version_id, _patients = cohort(clock)
    elsewhere = care_manager(clock, login="coord-ailleurs", site="Autre site")
    assert _counts(elsewhere, version_id, clock) == {"bilan": (1, 0), "relance": (1, 0), "attente": (1, 0)}


def test_instances_in_error_are_counted_at_the_element_that_failed(app, clock):
    instance_id, _patient, _team = script_in_error(clock)
    manager = care_manager(clock)
    version_id = db.session.get(PathwayInstance, instance_id).version_id
    result = version_cohort(manager, version_id, clock=clock)
    assert (result.running, result.in_error) == (0, 1)
    assert [(e.element_id, e.errors, e.waiting) for e in result.elements] == [("calcul_h1", 1, 0)]
    (summary,) = version_summaries(manager)
    assert (summary.version.id, summary.running, summary.in_error) == (version_id, 0, 1)


def test_patients_at_an_element_are_listed_overdue_first_and_the_read_is_audited(app, clock):
    version_id, patients = cohort(clock)
    manager = care_manager(clock)
    late = db.session.scalar(select(WorkItem).where(WorkItem.instance_id == patients["Martin"]))
    late.due_at = clock.now() - timedelta(minutes=5)  # Martin's assessment is already late
    db.session.commit()
    listing = patients_at_element(manager, version_id, "bilan", clock=clock)
    db.session.commit()
    assert [(r.patient.family_name, r.kind, r.overdue) for r in listing.rows] == [
        ("Martin", "work_item", True), ("Durand", "work_item", False)]
    assert listing.title == "Bilan infirmier" and listing.rows[0].work_item_id == late.id
    assert listing.rows[1].due_at is not None and listing.rows[1].since is not None
    (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "cohort.element_viewed"))
    assert event.actor_id == manager.professional_id and event.details["element_id"] == "bilan"
    assert event.details["patients"] == sorted(r.patient.id for r in listing.rows)


def test_patients_waiting_on_a_timer_or_a_message_are_listed_too(app, clock):
    version_id, _patients = cohort(clock)
    manager = care_manager(clock)
    timers = patients_at_element(manager, version_id, "relance", clock=clock)
    assert sorted(r.patient.family_name for r in timers.rows) == ["Durand", "Martin", "Petit"]
    assert {r.kind for r in timers.rows} == {"timer"} and all(r.due_at for r in timers.rows)
    messages = patients_at_element(manager, version_id, "attente", clock=clock)
    assert sorted(r.patient.family_name for r in messages.rows) == ["Durand", "Martin", "Petit"]
    assert {r.kind for r in messages.rows} == {"message"}


def test_another_site_never_sees_these_patients_at_an_element(app, clock):
    version_id, _patients = cohort(clock)
    elsewhere = care_manager(clock, login="coord-ailleurs", site="Autre site")
    listing = patients_at_element(elsewhere, version_id, "bilan", clock=clock)
    assert [r.patient.family_name for r in listing.rows] == ["Leroy"]


def test_cohort_is_for_care_managers_and_unknown_elements_are_not_found(app, clock):
    version_id, _patients = cohort(clock)
    nurse = Actor("professional", "infirmier", 999, frozenset({"infirmier"}), "MSP Test")
    with pytest.raises(NotPermitted):
        version_cohort(nurse, version_id, clock=clock)
    with pytest.raises(NotPermitted):
        patients_at_element(nurse, version_id, "bilan", clock=clock)
    with pytest.raises(NotFound):
        patients_at_element(care_manager(clock), version_id, "inconnu", clock=clock)
    with pytest.raises(NotFound):
        version_cohort(care_manager(clock, login="c2"), 99_999, clock=clock)
