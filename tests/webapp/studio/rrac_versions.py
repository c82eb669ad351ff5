"""Versions of the shipped shoulder-RRAC pathway changed the way a care manager would (the modeler is another
slice): the J+1 call moved to J+2, a reminder step added, a step moved to another lane, a form field added."""

from __future__ import annotations

import copy

from engine.clock import Clock
from engine.db import db
from engine.models import PathwayVersion
from engine.services.pathways import PathwaySource, deploy_pathway, read_pathway_source
from engine.types import Actor
from tests.conftest import REPO

RRAC = REPO / "workflows" / "bpmn" / "rrac_epaule.bpmn"
J1_TIMER = "Timer_J1_PostOp"
J1_CALL = "Task_AppelJ1"
J1_CALL_TITLE = "Appeler le patient à J+1 (douleur, signes d'alerte)"
ADDED_STEP = "Send_RdvKine"
ADDED_STEP_NAME = "Rappeler au patient de prendre rendez-vous chez le kinésithérapeute"
MOVED_STEP = "Task_RappelDouleur"
ADDED_FIELD = "temperature_c"

_SEND_TASK = f"""<bpmn:sendTask id="{ADDED_STEP}" name="{ADDED_STEP_NAME}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="recipient" value="patient" />
          <spiffworkflow:property name="channel" value="sms" />
          <spiffworkflow:property name="template" value="rappel_rdv_a_prendre" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:sendTask>
    """


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected one {old!r} in {RRAC.name}"
    return text.replace(old, new)


def rrac_source(*, j2: bool = False, added_step: bool = False, lane_change: bool = False,
                form_field: bool = False) -> PathwaySource:
    """The shipped rrac_epaule, with the chosen changes."""
    source = read_pathway_source(RRAC)
    xml = source.bpmn.decode("utf-8")
    if j2:
        xml = _replace_once(xml, "days=1 + nuits_hospitalisation", "days=2 + nuits_hospitalisation")
    if lane_change:  # the pain call-back goes from the nurse to the coordinator
        xml = _replace_once(xml, f"        <bpmn:flowNodeRef>{MOVED_STEP}</bpmn:flowNodeRef>\n", "")
        xml = _replace_once(xml, "<bpmn:flowNodeRef>Task_PatientInjoignable</bpmn:flowNodeRef>",
                            "<bpmn:flowNodeRef>Task_PatientInjoignable</bpmn:flowNodeRef>\n"
                            f"        <bpmn:flowNodeRef>{MOVED_STEP}</bpmn:flowNodeRef>")
    if added_step:  # after the discharge decision, before the post-operative branches
        xml = _replace_once(xml, "<bpmn:flowNodeRef>Send_RappelJ1_Suivi</bpmn:flowNodeRef>",
                            "<bpmn:flowNodeRef>Send_RappelJ1_Suivi</bpmn:flowNodeRef>\n"
                            f"        <bpmn:flowNodeRef>{ADDED_STEP}</bpmn:flowNodeRef>")
        xml = _replace_once(xml, '<bpmn:sequenceFlow id="Flow_Gateway_MergeSortie_Gateway_PostOpSplit" '
                                 'sourceRef="Gateway_MergeSortie" targetRef="Gateway_PostOpSplit" />',
                            '<bpmn:sequenceFlow id="Flow_Gateway_MergeSortie_Gateway_PostOpSplit" '
                            f'sourceRef="Gateway_MergeSortie" targetRef="{ADDED_STEP}" />\n'
                            f'    <bpmn:sequenceFlow id="Flow_{ADDED_STEP}_Gateway_PostOpSplit" '
                            f'sourceRef="{ADDED_STEP}" targetRef="Gateway_PostOpSplit" />')
        xml = _replace_once(xml, '<bpmn:parallelGateway id="Gateway_PostOpSplit"',
                            _SEND_TASK + '<bpmn:parallelGateway id="Gateway_PostOpSplit"')
    forms = copy.deepcopy(source.forms)
    if form_field:
        forms["rrac_appel_j1"]["properties"][ADDED_FIELD] = {"type": "number", "title": "Température (°C)",
                                                            "minimum": 34, "maximum": 43}
    return PathwaySource(source.filename, xml.encode("utf-8"), forms, source.dmn_files)


def deploy(source: PathwaySource, clock: Clock, actor: Actor | None = None) -> PathwayVersion:
    result = deploy_pathway(source, actor=actor or Actor.cli("test"), clock=clock)
    db.session.commit()
    return result.version


def deploy_two_versions(clock: Clock, actor: Actor | None = None, **changes: bool) -> tuple[PathwayVersion,
                                                                                          PathwayVersion]:
    """rrac_epaule v1 as shipped, v2 with ``changes`` (default: all four)."""
    v1 = deploy(rrac_source(), clock, actor)
    v2 = deploy(rrac_source(**(changes or {"j2": True, "added_step": True, "lane_change": True,
                                           "form_field": True})), clock, actor)
    return v1, v2
