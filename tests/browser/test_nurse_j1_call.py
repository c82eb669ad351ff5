"""The issue's scenario in a real browser: the nurse signs in, sees the J+1 call of a patient operated yesterday
(shoulder RRAC pathway), completes it with pain 8; the urgent review appears in the surgeon's inbox; the
patient's diagram shows the call done and the urgent review active. A screenshot at each step.

Page contracts (issue 4): inbox rows are `tr[data-work-item-id]` whose title link goes to /inbox/items/ID; the
work-item page has `form#complete-form` with inputs named by the JSON Schema properties
(workflows/forms/rrac_appel_j1.json) and a `[data-action="complete"]` button; the patient record
/patients/ID has (or links to a pathway page with) the bpmn-js diagram in `#diagram` (`data-markers-ready="1"`
once marked) whose element groups
`g.djs-element[data-element-id]` carry `step-done` / `step-active` / `step-waiting` / `step-overdue`.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from engine.db import db
from engine.models import Professional, WorkItem
from tests.browser.pages import fill_form, inbox_row, sign_in
from tests.browser.scenario import J1_CALL, URGENT_REVIEW, OperatedYesterday, open_item_of

pytestmark = pytest.mark.browser

# The nurse reached the patient, who reports pain 8/10 and no other warning sign.
CALL_ANSWERS = {"patient_joint": "oui", "douleur_nrs": 8, "antalgiques_pris": True, "nausees_vomissements": False,
                "saignement_plaie": False, "fievre": False, "deficit_neurologique": False}


def _assert_in_inbox(page: Page, item_id: int, title: str, family: str) -> None:
    row = inbox_row(page, item_id)
    expect(row).to_be_visible()
    link = row.get_by_role("link", name=title, exact=True)
    expect(link).to_have_attribute("href", re.compile(rf"/inbox/items/{item_id}$"))
    expect(row).to_contain_text(re.compile(re.escape(family), re.IGNORECASE))


def _open_diagram(page: Page, patient: OperatedYesterday) -> Locator:
    """The patient record, then the pathway's diagram: on the record itself, or on the pathway's page that the
    record links to (/patients/ID/instances/ID), once its markers are drawn."""
    page.goto(f"/patients/{patient.patient_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(re.escape(patient.family), re.I))
    if page.locator("#diagram").count() == 0:
        page.locator(f'a[href$="/instances/{patient.instance_id}"]').first.click()
    diagram = page.locator('#diagram[data-markers-ready="1"]')
    expect(diagram).to_be_visible()
    diagram.scroll_into_view_if_needed()
    return diagram


def _marker(page: Page, element_id: str) -> Locator:
    return page.locator(f'#diagram g.djs-element[data-element-id="{element_id}"]')


def test_nurse_completes_the_j1_call_with_pain_8_and_the_surgeon_gets_the_urgent_review(
        live_server, operated_yesterday: OperatedYesterday, open_page, shots):
    patient = operated_yesterday
    nurse = open_page("infirmier")

    # 1. The nurse signs in and finds the J+1 call of the patient operated yesterday in her inbox.
    sign_in(nurse, "infirmier")
    expect(nurse).to_have_url(re.compile(r"/inbox/"))
    _assert_in_inbox(nurse, patient.call_id, patient.call_title, patient.family)
    shots.take(nurse, "infirmiere-boite-appel-j1")

    # 2. She opens it: the call's form.
    inbox_row(nurse, patient.call_id).get_by_role("link", name=patient.call_title, exact=True).click()
    expect(nurse).to_have_url(re.compile(rf"/inbox/items/{patient.call_id}$"))
    form = nurse.locator("form#complete-form")
    expect(form).to_be_visible()
    shots.take(nurse, "appel-j1-formulaire")

    # 3. She records the call (pain 8) and completes it.
    fill_form(form, CALL_ANSWERS)
    shots.take(nurse, "appel-j1-douleur-8")
    with nurse.expect_response(lambda r: r.request.method == "POST"
                               and f"/inbox/items/{patient.call_id}" in r.url) as submitted:
        nurse.locator('[data-action="complete"]').click()
    assert submitted.value.status < 400, f"completion answered {submitted.value.status}"
    nurse.wait_for_load_state()
    shots.take(nurse, "appel-j1-termine")
    nurse.goto("/inbox/")
    expect(inbox_row(nurse, patient.call_id)).to_have_count(0)
    shots.take(nurse, "infirmiere-boite-apres-appel")

    with live_server.database():
        call = db.session.get(WorkItem, patient.call_id)
        assert call is not None and call.status == "completed", call and call.status
        assert (call.data or {}).get("douleur_nrs") == 8, call.data
        urgent = open_item_of(patient.instance_id, URGENT_REVIEW)
        assert urgent is not None, "no open urgent review after a J+1 call with pain 8"
        surgeon = db.session.get(Professional, urgent.assignee_id) if urgent.assignee_id else None
        urgent_id, urgent_title, urgent_priority = urgent.id, urgent.title, urgent.priority
        surgeon_login = surgeon.login if surgeon is not None else None
    assert urgent_priority == "urgent"
    assert surgeon_login == "chirurgien"

    # 4. The surgeon signs in: the urgent review of this patient is in his inbox.
    surgeon_page = open_page("chirurgien")
    sign_in(surgeon_page, "chirurgien")
    _assert_in_inbox(surgeon_page, urgent_id, urgent_title, patient.family)
    shots.take(surgeon_page, "chirurgien-boite-avis-urgent")

    # 5. The patient's record: on the diagram the call is done and the urgent review is the active step.
    diagram = _open_diagram(nurse, patient)
    expect(_marker(nurse, J1_CALL)).to_have_class(re.compile(r"\bstep-done\b"))
    expect(_marker(nurse, URGENT_REVIEW)).to_have_class(re.compile(r"\bstep-active\b"))
    expect(_marker(nurse, URGENT_REVIEW)).not_to_have_class(re.compile(r"\bstep-done\b"))
    expect(nurse.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io watermark, as its licence asks
    csp_blocked = nurse.evaluate("() => window.__cspViolations || []")
    assert csp_blocked == [], f"the diagram page broke the content security policy: {csp_blocked}"
    shots.take(nurse, "dossier-patient-parcours")
    shots.take_element(diagram, "diagramme-appel-fait-avis-urgent-en-cours")
