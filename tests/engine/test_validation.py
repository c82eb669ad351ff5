"""Deploy-time validation of pathways: each convention refused with its element id and an actionable reason."""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine.bpmn.validation import validate_pathway
from engine.errors import Problem

ROLES = {
    "medecin_traitant", "chirurgien", "anesthesiste", "infirmier", "kinesitherapeute", "pharmacien",
    "dieteticien", "podologue", "cardiologue", "ophtalmologue", "coordinateur", "patient",
}
FORMS: dict[str, Any] = {
    "appel_j1": {
        "type": "object",
        "properties": {"douleur_nrs": {"type": "integer", "minimum": 0, "maximum": 10}, "fievre": {"type": "boolean"}},
    },
}
FILE = "test_pathway.bpmn"
DMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs_dmn" name="risques"
             namespace="http://parcours.test/dmn">
  <decision id="risque_chute" name="Risque de chute">
    <decisionTable id="table_risque" hitPolicy="FIRST">
      <input id="in_age" label="Age">
        <inputExpression id="expr_age" typeRef="integer"><text>age</text></inputExpression>
      </input>
      <output id="out_niveau" name="niveau" typeRef="string"/>
      <rule id="rule_haut">
        <inputEntry id="entry_age"><text>&gt;= 80</text></inputEntry>
        <outputEntry id="entry_niveau"><text>"haut"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


# ---------------------------------------------------------------- BPMN builders


def props_xml(props: dict[str, str]) -> str:
    if not props:
        return ""
    items = "".join(f'<spiffworkflow:property name="{k}" value="{v}"/>' for k, v in props.items())
    return (f"<bpmn:extensionElements><spiffworkflow:properties>{items}</spiffworkflow:properties>"
            f"</bpmn:extensionElements>")


def user_task(element_id: str, name: str = "Appel J+1", **props: str) -> str:
    return f'<bpmn:userTask id="{element_id}" name="{name}">{props_xml(props)}</bpmn:userTask>'


def send_task(element_id: str, name: str = "Rappel", **props: str) -> str:
    return f'<bpmn:sendTask id="{element_id}" name="{name}">{props_xml(props)}</bpmn:sendTask>'


def script_task(element_id: str, script: str, name: str = "Calcul") -> str:
    return f'<bpmn:scriptTask id="{element_id}" name="{name}"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'


def timer(element_id: str, expression: str, kind: str = "timeDate", tag: str = "intermediateCatchEvent",
          attached_to: str | None = None) -> str:
    attach = f' attachedToRef="{attached_to}"' if attached_to else ""
    return (f'<bpmn:{tag} id="{element_id}" name="Attente {element_id}"{attach}>'
            f'<bpmn:timerEventDefinition id="{element_id}_def"><bpmn:{kind}>{expression}</bpmn:{kind}>'
            f"</bpmn:timerEventDefinition></bpmn:{tag}>")


def business_rule(element_id: str, decision: str) -> str:
    return (f'<bpmn:businessRuleTask id="{element_id}" name="Evaluer {decision}"><bpmn:extensionElements>'
            f"<spiffworkflow:calledDecisionId>{decision}</spiffworkflow:calledDecisionId>"
            f"</bpmn:extensionElements></bpmn:businessRuleTask>")


def _first_id(node: str) -> str:
    match = re.search(r'\bid="([^"]+)"', node)
    assert match, node
    return match.group(1)


def pathway_xml(body: str, *, lanes: dict[str, list[str]] | None = None, props: dict[str, str] | None = None,
                start: str = '<bpmn:startEvent id="Debut"/>') -> bytes:
    """A definitions/process/laneSet around raw flow nodes and flows; `lanes` maps lane name to node ids."""
    lane_xml = ""
    if lanes:
        lane_xml = '<bpmn:laneSet id="LaneSet_1">' + "".join(
            f'<bpmn:lane id="Lane_{i}" name="{name}">'
            + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs) + "</bpmn:lane>"
            for i, (name, refs) in enumerate(lanes.items())) + "</bpmn:laneSet>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="Definitions_1" targetNamespace="http://parcours.test/bpmn">
  <bpmn:process id="test_pathway" name="Parcours de test" isExecutable="true">
    {props_xml(props or {})}
    {lane_xml}
    {start}
    {body}
  </bpmn:process>
</bpmn:definitions>
""".encode()


def chain(*nodes: str, lanes: dict[str, list[str]] | None = None, props: dict[str, str] | None = None,
          extra: str = "", start: str = '<bpmn:startEvent id="Debut"/>') -> bytes:
    """Start -> nodes in order -> end, every node in lane `infirmier` unless `lanes` says otherwise."""
    ids = [_first_id(start), *(_first_id(n) for n in nodes), "Fin"]
    flows = "".join(f'<bpmn:sequenceFlow id="Flow_{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False)))
    body = "".join(nodes) + '<bpmn:endEvent id="Fin"/>' + flows + extra
    if lanes is None:
        lanes = {"infirmier": ids + re.findall(r'<bpmn:\w+ id="([^"]+)"', extra)}
    return pathway_xml(body, lanes=lanes, props=props, start=start)


def validate(bpmn: bytes, forms: dict[str, Any] | None = None,
             dmn: dict[str, bytes] | None = None) -> tuple[Any, list[Problem]]:
    return validate_pathway(bpmn, FILE, forms=FORMS if forms is None else forms, dmn_files=dmn or {},
                            known_roles=ROLES)


def only_problem(bpmn: bytes, element_id: str, *fragments: str, **kwargs: Any) -> Problem:
    """Validate, and check there is exactly one problem, on `element_id`, whose reason has every fragment."""
    _, problems = validate(bpmn, **kwargs)
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.file == FILE
    assert problem.element_id == element_id, problem
    for fragment in fragments:
        assert fragment in problem.reason, problem.reason
    return problem


VALID = chain(
    user_task("Appel", form="appel_j1", due="P1D", priority="urgent", escalate_after="PT4H"),
    timer("J1", "date_chirurgie + timedelta(days=1)"),
    send_task("Rappel", template="rappel_j1", recipient="patient", channel="sms"),
    script_task("Score", "score = douleur_nrs * 2"),
    timer("Suivi", '"P3M"', kind="timeDuration"),
    business_rule("Regle", "risque_chute"),
    props={"anchors": "date_chirurgie", "param:delai_jours": "2"},
)


# ---------------------------------------------------------------- the valid pathway


def test_valid_pathway_is_deployable_with_no_problems() -> None:
    compiled, problems = validate(VALID, dmn={"risques.dmn": DMN})
    assert problems == []
    assert compiled is not None
    assert compiled.key == "test_pathway"
    assert compiled.anchors == ["date_chirurgie"]
    assert compiled.elements["Regle"].decision_id is not None


def test_timer_using_parameter_and_boundary_cycle_is_accepted() -> None:
    bpmn = chain(
        user_task("Appel"),
        timer("Delai", "timedelta(days=delai_jours)", kind="timeDuration"),
        props={"param:delai_jours": "2"},
        extra=timer("Relance", '"R3/P1D"', kind="timeCycle", tag="boundaryEvent", attached_to="Appel")
        + '<bpmn:endEvent id="FinRelance"/><bpmn:sequenceFlow id="Flow_r" sourceRef="Relance" targetRef="FinRelance"/>',
    )
    assert validate(bpmn)[1] == []


# ---------------------------------------------------------------- 1. XML and compile


def test_broken_xml_is_refused_with_the_parse_problem() -> None:
    compiled, problems = validate(b"<bpmn:definitions")
    assert compiled is None
    assert len(problems) == 1 and problems[0].file == FILE and "malformed XML" in problems[0].reason


def test_doctype_is_refused_before_anything_is_compiled() -> None:
    hostile = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + VALID.split(b"?>", 1)[1]
    compiled, problems = validate(hostile)
    assert compiled is None
    assert "DOCTYPE" in problems[0].reason


def test_non_executable_process_is_refused_on_the_process() -> None:
    compiled, problems = validate(VALID.replace(b'isExecutable="true"', b'isExecutable="false"'))
    assert compiled is None
    assert problems[0].element_id == "test_pathway"
    assert 'isExecutable="true"' in problems[0].reason


def test_service_task_refusal_is_reworded_for_a_care_manager() -> None:
    compiled, problems = validate(chain('<bpmn:serviceTask id="Svc" name="Appel API"/>'))
    assert compiled is None
    assert [p.element_id for p in problems] == ["Svc"]
    assert "service tasks are not supported in care pathways" in problems[0].reason


def test_timer_with_no_definition_is_refused_on_the_timer() -> None:
    bare = '<bpmn:intermediateCatchEvent id="T"><bpmn:timerEventDefinition id="T_def"/></bpmn:intermediateCatchEvent>'
    compiled, problems = validate(chain(bare))
    assert compiled is None
    assert [p.element_id for p in problems] == ["T"]
    assert "timeDuration" in problems[0].reason


# ---------------------------------------------------------------- 2. lanes


def test_user_task_outside_any_lane_is_refused_on_the_task() -> None:
    bpmn = chain(user_task("Appel"), lanes={"infirmier": ["Debut", "Fin"]})
    only_problem(bpmn, "Appel", "user task 'Appel J+1' is outside any lane",
                 "put it in the lane of the role that does it")


def test_manual_task_outside_any_lane_is_refused() -> None:
    bpmn = chain('<bpmn:manualTask id="Pansement" name="Pansement"/>', lanes={"infirmier": ["Debut"]})
    only_problem(bpmn, "Pansement", "manual task 'Pansement' is outside any lane")


def test_lane_with_unknown_role_is_refused_on_the_lane_with_the_role_list() -> None:
    bpmn = chain(user_task("Appel"), lanes={"Infirmiere": ["Debut", "Appel", "Fin"]})
    problem = only_problem(bpmn, "Lane_0", "lane 'Infirmiere' is not a known role", "use one of:", "infirmier",
                           "did you mean 'infirmier'")
    assert "coordinateur" in problem.reason


def test_unnamed_lane_is_refused_on_the_lane() -> None:
    bpmn = chain(user_task("Appel"), lanes={"": ["Debut", "Appel", "Fin"]})
    only_problem(bpmn, "Lane_0", "a lane has no name", "role code")


def test_patient_lane_is_a_known_role() -> None:
    bpmn = chain(user_task("Auto", form="appel_j1"), lanes={"patient": ["Debut", "Auto", "Fin"]})
    assert validate(bpmn)[1] == []


# ---------------------------------------------------------------- 3. timers


def test_timer_with_unknown_name_is_refused() -> None:
    bpmn = chain(timer("J1", "chirurgie + timedelta(days=1)"))
    only_problem(bpmn, "J1", "uses 'chirurgie'", "not an anchor date, parameter, form field or script variable")


def test_unquoted_iso_duration_hints_to_quote_it() -> None:
    bpmn = chain(timer("Suivi", "P3M", kind="timeDuration"))
    only_problem(bpmn, "Suivi", 'write the duration quoted: "P3M"')


def test_duration_timer_giving_a_date_is_refused() -> None:
    bpmn = chain(timer("Suivi", "date_sortie", kind="timeDuration"))
    only_problem(bpmn, "Suivi", "not an ISO 8601 duration", "timeDate")


def test_duration_timer_with_invalid_duration_text_is_refused() -> None:
    bpmn = chain(timer("Suivi", '"3 mois"', kind="timeDuration"))
    only_problem(bpmn, "Suivi", "'3 mois'", "not an ISO 8601 duration", '"P3M"')


def test_date_timer_giving_a_number_is_refused() -> None:
    bpmn = chain(timer("J1", "3"))
    only_problem(bpmn, "J1", "(timeDate) gives 3, not a date")


def test_date_timer_giving_a_duration_string_suggests_a_duration_timer() -> None:
    bpmn = chain(timer("J1", '"P1D"'))
    only_problem(bpmn, "J1", "not a date", "timeDuration")


def test_date_timer_with_iso_string_is_accepted() -> None:
    assert validate(chain(timer("J1", '"2026-03-01T09:00:00+01:00"')))[1] == []


def test_date_timer_with_naive_iso_string_is_refused() -> None:
    only_problem(chain(timer("J1", '"2026-03-01T09:00:00"')), "J1", "no time zone", "+01:00")


def test_timer_with_misspelt_anchor_suggests_the_anchor() -> None:
    bpmn = chain(timer("J1", "chirurgie + timedelta(days=1)"), props={"anchors": "date_chirurgie"})
    only_problem(bpmn, "J1", "uses 'chirurgie'", "did you mean 'date_chirurgie'?")


def test_timer_with_empty_expression_is_refused() -> None:
    only_problem(chain(timer("J1", "  ")), "J1", "has no expression", "timeDuration")


def test_timer_failing_on_sample_dates_is_refused() -> None:
    bpmn = chain(timer("J1", "date_chirurgie + 1"))
    only_problem(bpmn, "J1", "fails with sample anchor dates", "timedelta")


def test_timer_on_form_field_is_compile_checked_only() -> None:
    bpmn = chain(user_task("Appel", form="appel_j1"), timer("Delai", "timedelta(days=douleur_nrs)",
                                                           kind="timeDuration"))
    assert validate(bpmn)[1] == []


def test_timer_on_script_variable_is_compile_checked_only() -> None:
    bpmn = chain(script_task("Calc", "jours = 3"), timer("Delai", "timedelta(days=jours)", kind="timeDuration"))
    assert validate(bpmn)[1] == []


def test_cycle_timer_outside_a_boundary_event_is_refused() -> None:
    bpmn = chain(timer("Boucle", '"R3/P1D"', kind="timeCycle"))
    only_problem(bpmn, "Boucle", "only supported on boundary events")


def test_boundary_cycle_without_repetition_count_is_refused() -> None:
    bpmn = chain(
        user_task("Appel"),
        extra=timer("Relance", '"P1D"', kind="timeCycle", tag="boundaryEvent", attached_to="Appel")
        + '<bpmn:endEvent id="FinRelance"/><bpmn:sequenceFlow id="Flow_r" sourceRef="Relance" targetRef="FinRelance"/>',
    )
    only_problem(bpmn, "Relance", '"R<times>/<duration>"')


def test_timer_start_event_is_refused() -> None:
    start = timer("DebutTimer", '"P1D"', kind="timeDuration", tag="startEvent")
    bpmn = chain(user_task("Appel"), start=start)
    only_problem(bpmn, "DebutTimer", "timer start events are not supported yet", "enrol patients explicitly")


def test_cycle_timer_start_event_is_refused_when_a_campaign_enrols_a_cohort_monthly() -> None:
    start = timer("CampagneMensuelle", '"R/P1M"', kind="timeCycle", tag="startEvent")
    bpmn = chain(user_task("Appel"), start=start)
    only_problem(bpmn, "CampagneMensuelle", "timer start events are not supported yet", "repeating",
                 "campaign", "enrol patients explicitly", "parcours enrol")


# ---------------------------------------------------------------- 4. conditions and scripts


def gateway_pathway(condition: str) -> bytes:
    body = (
        '<bpmn:exclusiveGateway id="Choix" default="Flow_non"/>'
        '<bpmn:endEvent id="FinOui"/><bpmn:endEvent id="FinNon"/>'
        '<bpmn:sequenceFlow id="Flow_0" sourceRef="Debut" targetRef="Choix"/>'
        f'<bpmn:sequenceFlow id="Flow_oui" name="douleur forte" sourceRef="Choix" targetRef="FinOui">'
        f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="Flow_non" sourceRef="Choix" targetRef="FinNon"/>'
    )
    return pathway_xml(body, lanes={"infirmier": ["Debut", "Choix", "FinOui", "FinNon"]})


def test_valid_condition_is_accepted() -> None:
    assert validate(gateway_pathway("douleur_nrs &gt;= 7"))[1] == []


def test_condition_with_syntax_error_is_refused_on_the_flow() -> None:
    only_problem(gateway_pathway("douleur_nrs &gt;= "), "Flow_oui", "condition of flow 'douleur forte'")


def test_sandbox_escape_in_condition_is_refused_on_the_flow() -> None:
    only_problem(gateway_pathway("().__class__.__base__.__subclasses__()"), "Flow_oui", "refused")


def test_sandbox_escape_in_script_is_refused_on_the_script_task() -> None:
    only_problem(chain(script_task("Calc", "import os")), "Calc", "script of script task 'Calcul'")


def test_sandbox_escape_in_timer_is_refused_on_the_timer() -> None:
    only_problem(chain(timer("J1", "__import__('os')")), "J1", "timer 'Attente J1' expression is refused")


def test_empty_script_is_refused() -> None:
    only_problem(chain(script_task("Calc", "")), "Calc", "has no script")


def test_pre_script_escape_is_refused_on_its_task() -> None:
    task = ('<bpmn:userTask id="Appel" name="Appel"><bpmn:extensionElements>'
            "<spiffworkflow:preScript>import os</spiffworkflow:preScript></bpmn:extensionElements></bpmn:userTask>")
    only_problem(chain(task), "Appel", "preScript")


def test_appointment_expression_escape_is_refused_on_the_send_task() -> None:
    bpmn = chain(send_task("Rappel", template="rdv", appointment="().__class__"))
    only_problem(bpmn, "Rappel", "appointment expression")


# ---------------------------------------------------------------- 5. forms


def test_missing_form_is_refused_with_where_to_add_it() -> None:
    only_problem(chain(user_task("Appel", form="bilan_j7")), "Appel", "form 'bilan_j7' not found",
                 "add workflows/forms/bilan_j7.json")


def test_invalid_json_schema_is_refused() -> None:
    forms = {"bilan": {"type": "object", "properties": {"x": {"type": "entier"}}}}
    only_problem(chain(user_task("Appel", form="bilan")), "Appel", "not a valid JSON Schema", forms=forms)


def test_form_with_unhashable_schema_dialect_is_refused_not_raised() -> None:
    forms = {"bilan": {"$schema": [], "type": "object"}}
    only_problem(chain(user_task("Appel", form="bilan")), "Appel", "not a valid JSON Schema", forms=forms)


def test_form_that_is_not_an_object_schema_is_refused() -> None:
    forms = {"bilan": {"type": "string"}}
    only_problem(chain(user_task("Appel", form="bilan")), "Appel", '"type": "object"', forms=forms)


# ---------------------------------------------------------------- 6-7. properties


@pytest.mark.parametrize("prop", ["due", "escalate_after"])
def test_user_task_duration_property_must_be_iso(prop: str) -> None:
    bpmn = chain(user_task("Appel", **{"due": "P1D", prop: "2 jours"}))
    only_problem(bpmn, "Appel", f"property {prop}", "not an ISO 8601 duration", "P2D")


def test_escalation_without_due_is_refused() -> None:
    only_problem(chain(user_task("Appel", escalate_after="PT4H")), "Appel", "escalate_after but no due", "add a due")


def test_user_task_priority_must_be_known() -> None:
    only_problem(chain(user_task("Appel", priority="haute")), "Appel", "priority 'haute'",
                 "routine, urgent, asap, stat")


def test_send_task_recipient_must_be_patient_or_role() -> None:
    only_problem(chain(send_task("Rappel", template="t", recipient="famille")), "Rappel", "recipient 'famille'",
                 "use one of:")


def test_send_task_channel_must_be_known() -> None:
    only_problem(chain(send_task("Rappel", template="t", channel="pigeon")), "Rappel", "channel 'pigeon'",
                 "sms, email, preferred")


def test_send_task_without_template_is_not_a_reminder() -> None:
    assert validate(chain(send_task("Rappel", channel="pigeon")))[1] == []


# ---------------------------------------------------------------- 8. DMN


def test_missing_decision_names_task_and_decision() -> None:
    compiled, problems = validate(chain(business_rule("Regle", "score_absent")), dmn={"risques.dmn": DMN})
    assert compiled is None
    assert [p.element_id for p in problems] == ["Regle"]
    assert "business rule task 'Regle' calls decision 'score_absent', which is in no DMN file deployed" in (
        problems[0].reason)
    assert "risque_chute" in problems[0].reason


def test_every_missing_decision_is_reported() -> None:
    bpmn = chain(business_rule("Regle1", "absent_a"), business_rule("Regle2", "absent_b"))
    _, problems = validate(bpmn)
    assert sorted((p.element_id, "'" + p.reason.split("'")[3] + "'") for p in problems) == [
        ("Regle1", "'absent_a'"), ("Regle2", "'absent_b'")]
    assert all("decisions deployed" not in p.reason for p in problems)  # no DMN file at all


# ---------------------------------------------------------------- 9. anchors


def test_invalid_anchor_name_is_refused_on_the_process() -> None:
    bpmn = chain(user_task("Appel"), props={"anchors": "date_chirurgie, date-sortie"})
    only_problem(bpmn, "test_pathway", "anchor 'date-sortie' is not a valid variable name")


# ---------------------------------------------------------------- all together


def test_several_problems_are_reported_together() -> None:
    bpmn = chain(
        user_task("Appel", form="absent", priority="haute"),
        user_task("Hors", name="Hors couloir"),
        timer("Suivi", "P3M", kind="timeDuration"),
        script_task("Calc", "import os"),
        send_task("Rappel", template="t", recipient="famille"),
        lanes={"Infirmiere": ["Debut", "Appel", "Suivi", "Calc", "Rappel", "Fin"]},
    )
    compiled, problems = validate(bpmn)
    assert compiled is not None
    located = {(p.element_id, p.reason.split(":")[0]) for p in problems}
    assert {element for element, _ in located} == {"Lane_0", "Hors", "Appel", "Suivi", "Calc", "Rappel"}
    assert len(problems) == 7, problems  # Appel has two: missing form and bad priority
    assert all(p.file == FILE and p.reason for p in problems)
