"""The care manager's operations in a real browser: with a version 2 of the shoulder RRAC pathway deployed (the
J+1 call timer moved to J+2), she opens the cohort of version 1 (counts on the diagram), previews the migration
v1 → v2, moves one selected patient, sees it confirmed, and finds the patient in the cohort of version 2.

This module deploys a new version of a shipped pathway: it runs on a server and database of its own (the
``live_server`` fixture is overridden here), so the other browser tests keep enrolling on version 1.
Screenshots of each step go to test-artifacts/browser/test_studio_migration/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.clock import SystemClock
from engine.db import db
from engine.models import AuditEvent, PathwayInstance, PathwayVersion, Patient, WorkItem
from engine.models.work_item import OPEN_STATUSES
from engine.services.pathways import PathwaySource, deploy_pathway, latest_version
from engine.types import Actor
from tests.browser.live_server import LiveServer, server_of_its_own
from tests.browser.pages import sign_in
from tests.conftest import BACKENDS

pytestmark = pytest.mark.browser

J1 = "days=1 + nuits_hospitalisation"
J2 = "days=2 + nuits_hospitalisation"
PATIENT = "DEMO-002"  # Louis Bernard, operated in 12 days: his pre-operative work items are open (webapp/cli/demo.py)


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app under gunicorn with the demo data, on a database of this module's own."""
    with server_of_its_own(request.param, tmp_path_factory.mktemp(f"live-ops-{request.param}"), "ops") as server:
        yield server


def _deploy_version_2() -> tuple[int, int]:
    """rrac_epaule v2 through the engine: the J+1 call timer at J+2 (the modeler is another slice's)."""
    v1 = latest_version("rrac_epaule")
    assert J1 in v1.bpmn_xml
    source = PathwaySource(v1.filename, v1.bpmn_xml.replace(J1, J2).encode("utf-8"), forms=dict(v1.forms or {}),
                           dmn_files={k: v.encode("utf-8") for k, v in (v1.dmn_files or {}).items()})
    v2 = deploy_pathway(source, actor=Actor.cli("test"), clock=SystemClock()).version
    db.session.commit()
    assert v2.version == v1.version + 1
    return v1.id, v2.id


def _wait_for_badges(page: Page) -> None:
    diagram = page.locator('#cohort-diagram[data-badges-ready="1"]')
    expect(diagram).to_be_visible()
    diagram.scroll_into_view_if_needed()


def test_care_manager_sees_the_cohort_and_migrates_one_patient_to_version_2(live_server, open_page, shots):
    with live_server.database():
        v1, v2 = _deploy_version_2()
        patient = db.session.scalar(select(Patient).where(Patient.identifier == PATIENT))
        instance = db.session.scalar(select(PathwayInstance).where(PathwayInstance.patient_id == patient.id,
                                                                   PathwayInstance.version_id == v1))
        assert instance is not None and instance.status == "active"
        step = db.session.scalar(select(WorkItem.element_id).where(WorkItem.instance_id == instance.id,
                                                                   WorkItem.status.in_(OPEN_STATUSES))
                                 .order_by(WorkItem.id))
        assert step is not None, "the demo patient has no open work item"
        patient_id, instance_id, family = patient.id, instance.id, patient.family_name
    manager = open_page("coordinateur")

    # 1. The care manager signs in and opens the operations page: rrac_epaule v1 is in use.
    sign_in(manager, "coordinateur")
    manager.goto("/studio/operations/")
    row = manager.locator(f'tr[data-version-id="{v1}"]')
    expect(row).to_be_visible()
    shots.take(manager, "suivi-des-instances")

    # 2. The cohort of version 1: counts on the diagram, one badge per step where patients wait.
    row.get_by_role("link", name="Cohorte sur le schéma").click()
    expect(manager).to_have_url(re.compile(rf"/studio/operations/versions/{v1}/$"))
    _wait_for_badges(manager)
    badges = manager.locator("#cohort-diagram .cohort-badge")
    expect(badges.first).to_be_visible()
    expect(manager.locator(f'#cohort-diagram .cohort-badge[data-element-id="{step}"]')).to_contain_text(
        re.compile(r"\d+ en attente / \d+ en retard"))
    expect(manager.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io watermark, as its licence asks
    assert manager.evaluate("() => window.__cspViolations || []") == []
    shots.take(manager, "cohorte-v1")
    shots.take_element(manager.locator("#cohort-diagram"), "cohorte-v1-schema")

    # 3. The migration preview v1 → v2: the patient can move; she selects him only.
    manager.goto("/studio/operations/")
    manager.locator(f'tr[data-version-id="{v1}"] a.migrate-link[data-to-version]').first.click()
    expect(manager).to_have_url(re.compile(rf"/studio/operations/migrations\?from={v1}&to={v2}$"))
    choice = manager.locator(f'table.movable tr[data-instance-id="{instance_id}"] input[type="checkbox"]')
    expect(choice).to_be_visible()
    choice.check()
    shots.take(manager, "apercu-migration-v1-v2")

    # 4. She moves the selection: the page confirms that one instance moved, this patient's.
    manager.locator('[data-action="migrate-selected"]').click()
    done = manager.locator("#migration-done")
    expect(done).to_contain_text("1 instance(s) déplacée(s) de la version 1 vers la version 2")
    expect(manager.locator(f'table.moved tr[data-instance-id="{instance_id}"]')).to_contain_text(
        re.compile(re.escape(family), re.I))
    shots.take(manager, "migration-confirmee")

    # 5. The cohort of version 2 shows the patient: on the diagram, then in the list of the step's patients.
    manager.locator("#target-cohort").click()
    expect(manager).to_have_url(re.compile(rf"/studio/operations/versions/{v2}/$"))
    _wait_for_badges(manager)
    badge = manager.locator(f'#cohort-diagram .cohort-badge[data-element-id="{step}"]')
    expect(badge).to_have_attribute("data-waiting", "1")
    shots.take(manager, "cohorte-v2")
    manager.locator(f'table.cohort-counts tr[data-element-id="{step}"] a').click()
    listing = manager.locator(f'table.element-patients tr[data-patient-id="{patient_id}"]')
    expect(listing).to_contain_text(re.compile(re.escape(family), re.I))
    expect(listing.get_by_role("link")).to_have_attribute("href", f"/patients/{patient_id}")
    shots.take(manager, "cohorte-v2-patients-etape")

    with live_server.database():
        moved = db.session.get(PathwayInstance, instance_id)
        assert moved.version_id == v2
        assert db.session.get(PathwayVersion, v2).version == 2
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "instance.migrated",
                                                           AuditEvent.instance_id == instance_id))
        assert event is not None and event.details["to_version"] == 2 and event.actor_label == "coordinateur"
        others = db.session.scalars(select(PathwayInstance.id).where(PathwayInstance.version_id == v1,
                                                                     PathwayInstance.status == "active")).all()
        assert others, "only the selected patient moved: the others stay on version 1"
