"""Pathway drafts: created from a starter, a copy of a version or an upload; saved with an optimistic revision;
validated with element-located problems; deployed as the next version (or refused, keeping nothing)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.errors import (
    ConcurrencyConflict,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    PathwayDefinitionError,
)
from engine.models import AuditEvent, PathwayDraft, PathwayVersion
from engine.services.drafts import (
    create_draft,
    delete_draft,
    deploy_draft,
    deploy_preview,
    draft_source,
    list_drafts,
    save_draft,
    starter_templates,
    validate_draft,
)
from engine.services.instances import enrol_patient
from engine.services.people import actor_for, create_patient, create_professional
from engine.types import Actor
from tests.conftest import REPO
from tests.factories import deploy_file

RRAC = REPO / "workflows" / "bpmn" / "rrac_epaule.bpmn"
J1_TIMER_V1 = "days=1 + nuits_hospitalisation"
J1_TIMER_V2 = "days=2 + nuits_hospitalisation"
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol2;</bpmn:definitions>"""


@pytest.fixture
def manager(app, clock) -> Actor:
    pro = create_professional("coordinateur", "Claire Coordinatrice", ["coordinateur"], at=clock.now(),
                              site="MSP Test", password="demo")
    db.session.commit()
    return actor_for(pro)


@pytest.fixture
def rrac_v1(app, clock) -> int:
    return deploy_file(RRAC, clock)


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_starter_template_creates_a_deployable_draft_under_the_new_key(manager, clock):
    names = [t.name for t in starter_templates()]
    assert "suivi_minimal" in names
    draft = create_draft(actor=manager, clock=clock, template="suivi_minimal", key="suivi_plaie",
                         title="Suivi de plaie")
    assert (draft.key, draft.title, draft.revision, draft.status) == ("suivi_plaie", "Suivi de plaie", 1, "draft")
    assert 'id="suivi_plaie"' in draft.bpmn_xml and 'processRef="suivi_plaie"' in draft.bpmn_xml
    assert validate_draft(draft) == []
    result = deploy_draft(draft, actor=manager, clock=clock)
    assert (result.version.key, result.version.version) == ("suivi_plaie", 1)
    assert set(result.version.forms) == {"suivi_minimal_appel"}
    assert _audit("draft.created")[0].details == {"key": "suivi_plaie", "template": "suivi_minimal"}


@pytest.mark.parametrize("starter", [t.name for t in starter_templates()])
def test_every_starter_template_validates_with_its_forms(manager, clock, starter):
    draft = create_draft(actor=manager, clock=clock, template=starter, key=f"essai_{starter}")
    assert draft.forms and validate_draft(draft) == []


def test_starter_refuses_the_key_of_a_deployed_pathway(manager, clock, rrac_v1):
    with pytest.raises(InvalidInput, match="already deployed"):
        create_draft(actor=manager, clock=clock, template="suivi_minimal", key="rrac_epaule")
    with pytest.raises(InvalidInput, match="not allowed"):
        create_draft(actor=manager, clock=clock, template="suivi_minimal", key="Pas une clé")


def test_copy_of_a_version_keeps_xml_forms_and_dmn_and_is_identical_until_changed(manager, clock, rrac_v1):
    version = db.session.get(PathwayVersion, rrac_v1)
    draft = create_draft(actor=manager, clock=clock, from_version_id=rrac_v1)
    assert (draft.key, draft.base_version_id) == ("rrac_epaule", rrac_v1)
    assert draft.bpmn_xml == version.bpmn_xml and draft.forms == version.forms
    assert draft_source(draft).sha256 == version.sha256
    preview = deploy_preview(draft, actor=manager)
    assert preview.identical_to == 1 and preview.next_version == 2
    with pytest.raises(InvalidTransition, match="identical to version 1"):
        deploy_draft(draft, actor=manager, clock=clock)


def test_save_bumps_the_revision_and_a_stale_revision_is_a_conflict(manager, clock, rrac_v1):
    draft = create_draft(actor=manager, clock=clock, from_version_id=rrac_v1)
    db.session.commit()
    xml = draft.bpmn_xml.replace(J1_TIMER_V1, J1_TIMER_V2)
    saved = save_draft(draft.id, bpmn_xml=xml, forms=draft.forms, expected_revision=1, actor=manager, clock=clock)
    db.session.commit()
    assert saved.revision == 2 and J1_TIMER_V2 in saved.bpmn_xml
    with pytest.raises(ConcurrencyConflict, match="revision 2, yours is 1"):
        save_draft(draft.id, bpmn_xml=draft.bpmn_xml, forms={}, expected_revision=1, actor=manager, clock=clock)
    db.session.rollback()
    assert J1_TIMER_V2 in db.session.get(PathwayDraft, draft.id).bpmn_xml
    assert [e.details["revision"] for e in _audit("draft.saved")] == [2]


def test_upload_of_hostile_or_non_xml_is_refused_and_nothing_is_stored(manager, clock):
    for name, data, reason in (("lol.bpmn", BILLION_LAUGHS, "DOCTYPE"), ("notes.bpmn", b"hello, not xml", "malformed"),
                               ("big.bpmn", b"<a>" + b" " * (6 * 1024 * 1024) + b"</a>", "limit"),
                               ("empty.bpmn", b"  ", "empty")):
        with pytest.raises(PathwayDefinitionError) as refused:
            create_draft(actor=manager, clock=clock, upload=(name, data))
        assert reason in str(refused.value)
    assert db.session.scalar(select(func.count(PathwayDraft.id))) == 0


def test_upload_with_problems_is_kept_and_gets_forms_of_the_same_pathway(manager, clock, rrac_v1):
    data = RRAC.read_bytes().replace(b"<bpmn:flowNodeRef>Task_AppelJ1</bpmn:flowNodeRef>", b"")
    draft = create_draft(actor=manager, clock=clock, upload=("rrac_epaule.bpmn", data))
    assert draft.base_version_id == rrac_v1 and "rrac_appel_j1" in draft.forms
    problems = validate_draft(draft)
    assert [(p.element_id, p.file) for p in problems] == [("Task_AppelJ1", "rrac_epaule.bpmn")]
    assert "outside any lane" in problems[0].reason


@pytest.mark.parametrize("change, element_id, reason", [
    (("<bpmn:flowNodeRef>Task_AppelJ1</bpmn:flowNodeRef>", ""), "Task_AppelJ1", "outside any lane"),
    (('name="infirmier"', 'name="infirmiere"'), "Lane_infirmier", "not a known role"),
    ((J1_TIMER_V1, "days=1 + nuits_hospitalisaton"), "Timer_J1_PostOp", "nuits_hospitalisaton"),
    (('value="rrac_appel_j1"', 'value="rrac_appel_j1_bis"'), "Task_AppelJ1", "form 'rrac_appel_j1_bis' not found"),
    (("appel_j1_tentative = appel_j1_tentative + 1", "appel_j1_tentative = ().__class__"), "Script_TentativeAppel",
     "refused"),
])
def test_validate_locates_each_problem_on_its_bpmn_element(manager, clock, rrac_v1, change, element_id, reason):
    draft = create_draft(actor=manager, clock=clock, from_version_id=rrac_v1)
    problems = validate_draft(draft, bpmn_xml=draft.bpmn_xml.replace(*change))
    assert [p.element_id for p in problems] == [element_id], problems
    assert reason in problems[0].reason
    assert validate_draft(draft) == []  # the saved draft itself is unchanged


def test_invalid_form_text_is_saved_and_reported_on_the_user_task(manager, clock, rrac_v1):
    draft = create_draft(actor=manager, clock=clock, from_version_id=rrac_v1)
    forms = {**draft.forms, "rrac_appel_j1": '{"type": "object", "properties": {'}
    save_draft(draft.id, bpmn_xml=draft.bpmn_xml, forms=forms, expected_revision=1, actor=manager, clock=clock)
    assert draft.forms["rrac_appel_j1"] == '{"type": "object", "properties": {'
    problems = validate_draft(draft)
    assert {p.element_id for p in problems} == {"Task_AppelJ1"}
    assert any("not valid JSON (line 1" in p.reason for p in problems)


def test_deploy_preview_counts_the_site_instances_staying_and_deploy_makes_version_2(manager, clock, rrac_v1):
    for identifier, site in (("P-1", "MSP Test"), ("P-2", "MSP Test"), ("P-3", "Autre site")):
        patient = create_patient(identifier, "Martin", "Jeanne", at=clock.now(), site=site)
        enrol_patient(patient.id, "rrac_epaule", context={"date_chirurgie": "2026-11-30"}, actor=Actor.cli(),
                      clock=clock)
    draft = create_draft(actor=manager, clock=clock, from_version_id=rrac_v1)
    save_draft(draft.id, bpmn_xml=draft.bpmn_xml.replace(J1_TIMER_V1, J1_TIMER_V2), forms=draft.forms,
               expected_revision=1, actor=manager, clock=clock)
    preview = deploy_preview(draft, actor=manager)
    assert (preview.next_version, preview.instances_staying, preview.problems) == (2, {1: 2}, [])
    assert preview.identical_to is None and preview.base_version == 1
    assert deploy_preview(draft, actor=Actor.cli()).instances_staying == {1: 3}
    result = deploy_draft(draft, actor=manager, clock=clock, expected_revision=2)
    assert (result.created, result.version.version) == (True, 2)
    assert J1_TIMER_V2 in result.version.bpmn_xml
    assert (draft.status, draft.deployed_version_id) == ("deployed", result.version.id)
    assert _audit("draft.deployed")[0].details["version"] == 2
    with pytest.raises(InvalidTransition, match="deployed as version 2"):
        save_draft(draft.id, bpmn_xml=draft.bpmn_xml, forms={}, expected_revision=draft.revision, actor=manager,
                   clock=clock)
    summary = list_drafts()[0]
    assert (summary.base_version, summary.deployed_version, summary.status) == (1, 2, "deployed")


def test_refused_deploy_keeps_nothing(manager, clock, rrac_v1):
    draft = create_draft(actor=manager, clock=clock, from_version_id=rrac_v1)
    bad = draft.bpmn_xml.replace("<bpmn:flowNodeRef>Task_AppelJ1</bpmn:flowNodeRef>", "")
    save_draft(draft.id, bpmn_xml=bad, forms=draft.forms, expected_revision=1, actor=manager, clock=clock)
    with pytest.raises(PathwayDefinitionError) as refused:
        deploy_draft(draft, actor=manager, clock=clock)
    assert [p.element_id for p in refused.value.problems] == ["Task_AppelJ1"]
    assert db.session.scalar(select(func.count(PathwayVersion.id))) == 1
    assert draft.status == "draft" and _audit("draft.deployed") == []


def test_only_care_managers_may_draft(app, clock, rrac_v1, manager):
    nurse = actor_for(create_professional("infirmier", "Ines", ["infirmier"], at=clock.now(), site="MSP Test"))
    with pytest.raises(NotPermitted):
        create_draft(actor=nurse, clock=clock, from_version_id=rrac_v1)
    draft = create_draft(actor=manager, clock=clock, from_version_id=rrac_v1)
    for call in (lambda: save_draft(draft.id, bpmn_xml=draft.bpmn_xml, forms={}, expected_revision=1, actor=nurse,
                                    clock=clock),
                 lambda: deploy_draft(draft, actor=nurse, clock=clock),
                 lambda: deploy_preview(draft, actor=nurse),
                 lambda: delete_draft(draft.id, actor=nurse, clock=clock)):
        with pytest.raises(NotPermitted):
            call()


def test_delete_removes_the_draft_and_is_audited(manager, clock, rrac_v1):
    draft = create_draft(actor=manager, clock=clock, from_version_id=rrac_v1)
    delete_draft(draft.id, actor=manager, clock=clock)
    assert list_drafts() == []
    assert _audit("draft.deleted")[0].object_id == str(draft.id)
