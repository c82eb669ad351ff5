"""Issue 5's scenario in one care manager's session, in a real browser: she opens `rrac_epaule` in the studio,
edits a copy of version 1 in the modeler and moves the J+1 call's timer to J+2, validates (no problem), deploys
version 2 (the confirmation says how many instances stay on version 1), simulates version 2 and sees the call on
J+2, enrols a patient on version 2 from his record, and migrates one patient of version 1 to version 2.

Each section's details are tested on their own (test_studio_modeler, test_studio_simulation,
test_studio_migration); this test walks the links between them, as she would. It deploys a version and
migrates a patient, so it runs on a server and database of its own. Screenshots in test-artifacts/browser/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent, PathwayInstance, PathwayVersion, Patient
from engine.services.pathways import latest_version
from tests.browser.live_server import LiveServer, server_of_its_own
from tests.browser.pages import sign_in
from tests.conftest import BACKENDS
from webapp.cli.demo import PARIS

pytestmark = pytest.mark.browser

J1 = "days=1 + nuits_hospitalisation"
J2 = "days=2 + nuits_hospitalisation"
TIMER = "Timer_J1_PostOp"
CALL = "Task_AppelJ1"
MOVED = "DEMO-002"  # Louis Bernard, operated in 12 days, on version 1 (webapp/cli/demo.py)
ENROLLED = "DEMO-004"  # Michel Durand, followed for diabetes: his shoulder surgery is enrolled on version 2


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with server_of_its_own(request.param, tmp_path_factory.mktemp(f"live-studio-{request.param}"),
                           "studio") as server:
        yield server


def _no_csp_violation(page: Page) -> None:
    assert page.evaluate("() => window.__cspViolations || []") == []


def test_care_manager_moves_the_j1_call_to_j2_deploys_simulates_enrols_and_migrates(live_server, open_page, shots):
    with live_server.database():
        v1 = latest_version("rrac_epaule")
        assert v1.version == 1 and J1 in v1.bpmn_xml
        moved = db.session.scalar(select(Patient).where(Patient.identifier == MOVED))
        moved_instance = db.session.scalar(select(PathwayInstance.id).where(
            PathwayInstance.patient_id == moved.id, PathwayInstance.version_id == v1.id))
        enrolled = db.session.scalar(select(Patient).where(Patient.identifier == ENROLLED))
        v1_id, moved_id, enrolled_id = v1.id, moved.id, enrolled.id
    page = open_page("coordinateur")
    sign_in(page, "coordinateur")

    # 1. The studio: rrac_epaule and its version history.
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Studio").click()
    page.locator('tr[data-pathway="rrac_epaule"]').get_by_role("link", name="RAAC après chirurgie de l'épaule").click()
    expect(page).to_have_url(re.compile(r"/studio/pathways/rrac_epaule/$"))
    shots.take(page, "1-historique")

    # 2. "Edit a copy" of version 1 opens the modeler; she selects the J+1 timer and moves it to J+2.
    page.locator('tr[data-version="1"]').get_by_role("button", name="modifier une copie").click()
    expect(page).to_have_url(re.compile(r"/studio/drafts/\d+/$"))
    expect(page.locator('#canvas[data-ready="1"]')).to_be_attached()
    expect(page.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io watermark, as its licence asks
    page.locator(f'#canvas g.djs-element[data-element-id="{TIMER}"]').click()
    expression = page.locator(f'#properties[data-element-id="{TIMER}"] input[name="timer_expression"]')
    expect(expression).to_have_value(re.compile(re.escape(J1)))
    expression.fill(expression.input_value().replace(J1, J2))
    expression.press("Enter")
    expect(page.locator('#save-state[data-state="unsaved"]')).to_be_visible()

    # 3. Save and validate: no problem.
    page.locator("#save").click()
    expect(page.locator('#save-state[data-state="saved"]')).to_be_visible()
    page.locator("#validate").click()
    expect(page.locator('#problems-summary[data-count="0"]')).to_contain_text("Aucun problème")
    _no_csp_violation(page)
    shots.take(page, "2-modeleur-j2-valide")

    # 4. Deploy: the confirmation says version 2 and that the running instances stay on version 1.
    page.locator("#deploy").click()
    summary = page.locator("#deploy-summary")
    expect(summary).to_contain_text("deviendra la version 2 du parcours rrac_epaule")
    expect(summary.locator('li[data-version="1"]')).to_contain_text(re.compile(r"\d+ instances? en cours"))
    shots.take(page, "3-confirmation")
    page.get_by_role("button", name="Déployer la version 2").click()
    expect(page.get_by_role("status").filter(has_text="Version 2 de « rrac_epaule » déployée.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/studio/pathways/rrac_epaule/$"))
    expect(page.locator('tr[data-version="2"]')).to_contain_text("en service")
    shots.take(page, "4-version-2-deployee")

    # 5. She simulates version 2, the surgery in two weeks: the J+1 call opens on J+2.
    page.locator('tr[data-version="2"] [data-action="simulate"]').click()
    surgery = datetime.now(PARIS).date() + timedelta(days=14)
    page.locator('input[name="anchor:date_chirurgie"]').fill(surgery.isoformat())
    page.locator('input[name="months"]').fill("2")
    page.locator('[data-action="simulate"]').click()
    call = page.locator(f'tr[data-kind="ouverture"][data-element-id="{CALL}"]')
    expect(call).to_have_count(1)
    expect(call.locator(".jday")).to_have_text("J+2")
    call.scroll_into_view_if_needed()
    shots.take(page, "5-simulation-appel-j2")

    # 6. She enrols a patient on the shoulder pathway from his record: version 2 is the one offered.
    page.goto(f"/patients/{enrolled_id}")
    form = page.locator('form.enrol-form[data-pathway="rrac_epaule"]')
    expect(form).to_contain_text("(v2)")
    form.locator('input[name="date_chirurgie"]').fill((surgery + timedelta(days=7)).isoformat())
    form.get_by_role("button", name="Inscrire").click()
    expect(page.get_by_role("status").filter(has_text="Patient inscrit sur le parcours.")).to_be_visible()
    shots.take(page, "6-inscription-v2")

    # 7. She migrates one patient of version 1 to version 2.
    page.goto("/studio/operations/")
    page.locator(f'tr[data-version-id="{v1_id}"] a.migrate-link[data-to-version="2"]').click()
    page.locator(f'table.movable tr[data-instance-id="{moved_instance}"] input[type="checkbox"]').check()
    page.locator('[data-action="migrate-selected"]').click()
    expect(page.locator("#migration-done")).to_contain_text(
        "1 instance(s) déplacée(s) de la version 1 vers la version 2")
    _no_csp_violation(page)
    shots.take(page, "7-migration")

    with live_server.database():
        v2 = db.session.scalar(select(PathwayVersion).where(PathwayVersion.key == "rrac_epaule",
                                                            PathwayVersion.version == 2))
        assert v2 is not None and J2 in v2.bpmn_xml and J1 not in v2.bpmn_xml
        assert v2.deployed_by_label == "coordinateur"
        assert db.session.get(PathwayInstance, moved_instance).version_id == v2.id
        enrolment = db.session.scalar(select(PathwayInstance).where(PathwayInstance.patient_id == enrolled_id,
                                                                    PathwayInstance.version_id == v2.id))
        assert enrolment is not None and enrolment.status == "active"
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_label == "coordinateur")))
        assert {"draft.created", "draft.saved", "draft.deployed", "pathway.simulated", "instance.migrated"} <= actions
        assert moved_id != enrolled_id
