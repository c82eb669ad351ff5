"""The readable difference between two versions: what a care manager changed, said the way they would say it
(the J+1 timer now J+2, a reminder step added, a step given to another role, a form field added), not XML."""

from __future__ import annotations

import json

import pytest

from engine.errors import PathwayDefinitionError
from engine.services.version_diff import Change, DiffCategory, diff_definitions, diff_sources, diff_versions
from tests.webapp.studio.rrac_versions import (
    ADDED_FIELD,
    ADDED_STEP,
    ADDED_STEP_NAME,
    J1_TIMER,
    MOVED_STEP,
    deploy_two_versions,
    rrac_source,
)


def test_diff_of_two_deployed_versions_reads_as_the_changes_made(app, clock):
    v1, v2 = deploy_two_versions(clock)
    diff = diff_versions(v1, v2)

    [timer] = diff.of(DiffCategory.TIMERS)
    assert (timer.change, timer.element_id, timer.element_name, timer.kind, timer.field) == (
        Change.CHANGED, J1_TIMER, "Lendemain de la sortie, 10 h", "timer_event", "date")
    assert "days=1 + nuits_hospitalisation" in timer.before and "days=2 + nuits_hospitalisation" in timer.after

    steps = {(e.change, e.element_id): e for e in diff.of(DiffCategory.STEPS)}
    assert set(steps) == {(Change.ADDED, ADDED_STEP), (Change.MOVED, MOVED_STEP)}
    added = steps[(Change.ADDED, ADDED_STEP)]
    assert (added.element_name, added.kind, added.after) == (ADDED_STEP_NAME, "send_task", "patient")
    assert added.details["template"] == "rappel_rdv_a_prendre" and added.details["channel"] == "sms"
    moved = steps[(Change.MOVED, MOVED_STEP)]
    assert (moved.before, moved.after) == ("infirmier", "coordinateur")

    [form] = diff.of(DiffCategory.FORMS)
    assert (form.change, form.element_id, form.field, form.after) == (
        Change.ADDED, "rrac_appel_j1", ADDED_FIELD, "Température (°C)")
    assert form.details["type"] == "number"

    flows = {(e.change, e.element_id) for e in diff.of(DiffCategory.FLOWS)}
    assert flows == {(Change.CHANGED, "Flow_Gateway_MergeSortie_Gateway_PostOpSplit"),
                     (Change.ADDED, f"Flow_{ADDED_STEP}_Gateway_PostOpSplit")}
    assert not diff.of(DiffCategory.PROPERTIES) and not diff.of(DiffCategory.CONDITIONS)
    assert [c for c, _ in diff.groups()] == [DiffCategory.STEPS, DiffCategory.TIMERS, DiffCategory.FLOWS,
                                             DiffCategory.FORMS]


def test_identical_definitions_have_no_difference():
    assert diff_sources(rrac_source(), rrac_source()).is_empty


def _xml_edit(old: str, new: str) -> bytes:
    xml = rrac_source().bpmn.decode()
    assert old in xml
    return xml.replace(old, new, 1).encode()


def test_properties_conditions_parameters_renames_and_removals_are_each_named():
    base = rrac_source()
    xml = base.bpmn.decode()
    edits = [
        ('<spiffworkflow:property name="due" value="PT2H" />', '<spiffworkflow:property name="due" value="PT4H" />'),
        ('name="Appeler le patient à J+1 (douleur, signes d\'alerte)"', 'name="Appeler le patient à J+2"'),
        ('douleur_nrs &gt;= seuil_nrs_urgent or fievre', 'douleur_nrs &gt;= 8 or fievre'),
        ('<spiffworkflow:property name="param:seuil_nrs_rappel" value="4" />',
         '<spiffworkflow:property name="param:seuil_nrs_rappel" value="5" />'),
        ('<spiffworkflow:property name="anchors" value="date_chirurgie" />',
         '<spiffworkflow:property name="anchors" value="date_chirurgie, date_sortie" />'),
    ]
    for old, new in edits:
        assert xml.count(old) >= 1, old
        xml = xml.replace(old, new, 1)
    forms = json.loads(json.dumps(base.forms))
    call = forms["rrac_appel_j1"]["properties"]
    call["patient_joint"]["enum"] = ["oui", "non", "messagerie"]
    del call["fievre"]
    forms["rrac_appel_j1"]["required"] = ["patient_joint", "douleur_nrs"]

    diff = diff_definitions(base.bpmn, base.forms, xml, forms)

    props = [(e.element_id, e.field, e.before, e.after) for e in diff.of(DiffCategory.PROPERTIES)]
    assert props == [("Task_AppelJ1", "due", "PT2H", "PT4H")]
    [renamed] = [e for e in diff.of(DiffCategory.STEPS) if e.change == Change.RENAMED]
    assert (renamed.element_id, renamed.before, renamed.after) == (
        "Task_AppelJ1", "Appeler le patient à J+1 (douleur, signes d'alerte)", "Appeler le patient à J+2")
    [condition] = diff.of(DiffCategory.CONDITIONS)
    assert condition.element_id == "Flow_Gateway_Douleur_Task_AvisChirurgienUrgent"
    assert (condition.change, condition.element_name, condition.field) == (
        Change.CHANGED, "EN ≥ 7 ou alerte", "Douleur ou signe d'alerte ?")
    assert condition.before.startswith("douleur_nrs >= seuil_nrs_urgent") and condition.after.startswith(
        "douleur_nrs >= 8")
    parameters = {(e.field, e.before, e.after) for e in diff.of(DiffCategory.PARAMETERS)}
    assert parameters == {("seuil_nrs_rappel", "4", "5"), ("anchors", "date_chirurgie", "date_chirurgie, date_sortie")}
    form_changes = {(e.change, e.field, e.attribute, e.before, e.after) for e in diff.of(DiffCategory.FORMS)}
    assert form_changes == {
        (Change.CHANGED, "patient_joint", "enum", '["oui", "non"]', '["oui", "non", "messagerie"]'),
        (Change.CHANGED, "douleur_nrs", "required", "false", "true"),
        (Change.REMOVED, "fievre", None, "Fièvre", None),
    }


def test_a_removed_step_and_its_timer_are_listed():
    old = rrac_source(added_step=True)
    diff = diff_sources(old, rrac_source())
    assert [(e.change, e.element_id) for e in diff.of(DiffCategory.STEPS)] == [(Change.REMOVED, ADDED_STEP)]
    xml = _xml_edit('<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT2H"</bpmn:timeDuration>',
                    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT3H"</bpmn:timeDuration>')
    [timer] = diff_definitions(old.bpmn, old.forms, xml, old.forms).of(DiffCategory.TIMERS)
    assert (timer.element_id, timer.field, timer.before, timer.after) == (
        "Timer_NouvelEssai", "duration", '"PT2H"', '"PT3H"')


def test_refused_xml_is_a_located_definition_error():
    with pytest.raises(PathwayDefinitionError) as refused:
        diff_definitions(b"<not-bpmn/>", {}, rrac_source().bpmn, {}, old_filename="brouillon.bpmn")
    assert refused.value.problems[0].file == "brouillon.bpmn"
