"""The studio in a real browser: the care manager (demo login `coordinateur`) opens the studio, opens the
shoulder RRAC pathway, compares version 1 with a version 2 whose J+1 call timer was moved to J+2 (deployed in
the set-up through the engine service: the modeler is another page), reads the timer change, then simulates
version 2 with the surgery date chosen and finds the nurse's J+1 call on J+2 in the timeline. Nothing is
deployed from the browser. A screenshot at each step (test-artifacts/browser/test_studio_simulation/...).

Page contracts: /studio/ rows `tr[data-pathway]`; the history's rows `tr[data-version]` with
`[data-action=compare-previous]` and `[data-action=simulate]`; the differences `li.diff-entry[data-element-id]`;
the simulation form inputs `start`, `months`, `anchor:<anchor>` and `[data-action=simulate]`; the timeline
rows `tr[data-kind][data-day][data-element-id]` in `section.sim-week[data-iso-week]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete, select

from engine.clock import SystemClock
from engine.db import db
from engine.models import PathwayInstance, PathwayVersion, Professional
from engine.services.people import actor_for
from tests.browser.live_server import LiveServer
from tests.browser.pages import sign_in
from tests.webapp.studio.rrac_versions import J1_CALL, J1_TIMER, deploy, rrac_source
from webapp.cli.demo import PARIS

pytestmark = pytest.mark.browser

J1_CALL_TITLE = "Appeler le patient à J+1 (douleur, signes d'alerte)"


@pytest.fixture
def rrac_version_2(live_server: LiveServer) -> Iterator[int]:
    """rrac_epaule v2 = v1 with `Timer_J1_PostOp` at `days=2 + nuits_hospitalisation`, deployed by the demo care
    manager. Removed afterwards (no instance runs on it), so that the session's other browser tests enrol
    their patients on the shipped version, as they expect."""
    with live_server.database():
        manager = db.session.scalar(select(Professional).where(Professional.login == "coordinateur"))
        version = deploy(rrac_source(j2=True), SystemClock(), actor_for(manager))  # the server's clock
        number, version_id = version.version, version.id
    yield number
    with live_server.database():
        db.session.execute(delete(PathwayVersion).where(PathwayVersion.id == version_id))
        db.session.commit()


def _no_csp_violation(page: Page) -> None:
    blocked = page.evaluate("() => window.__cspViolations || []")
    assert blocked == [], f"the page broke the content security policy: {blocked}"


def test_care_manager_compares_v1_and_v2_then_simulates_v2_and_sees_the_j1_call_on_j2(
        live_server, rrac_version_2: int, open_page, shots):
    assert rrac_version_2 == 2
    manager = open_page("coordinateur")

    # 1. The care manager signs in and opens the studio: the pathways, with the version in use and the
    #    instances running on each version.
    sign_in(manager, "coordinateur")
    manager.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Studio").click()
    expect(manager).to_have_url(re.compile(r"/studio/$"))
    row = manager.locator('tr[data-pathway="rrac_epaule"]')
    expect(row).to_contain_text("RAAC après chirurgie de l'épaule")
    expect(row.locator(".current-version")).to_have_text("v2")
    expect(row.locator('li[data-version="1"] .running')).not_to_have_attribute("data-running", "0")  # the demo's
    _no_csp_violation(manager)
    shots.take(manager, "studio-parcours")

    # 2. She opens the shoulder pathway: its version history.
    row.get_by_role("link", name="RAAC après chirurgie de l'épaule").click()
    expect(manager).to_have_url(re.compile(r"/studio/pathways/rrac_epaule/$"))
    expect(manager.locator("tr[data-version]")).to_have_count(2)
    expect(manager.locator('tr[data-version="2"]')).to_contain_text("en service")
    shots.take(manager, "historique-rrac-epaule")

    # 3. "Compare with the previous one" on v2: the J+1 timer change reads as a timer change, old → new.
    manager.locator('tr[data-version="2"] [data-action="compare-previous"]').click()
    expect(manager).to_have_url(re.compile(r"/diff\?from=1&to=2$"))
    expect(manager.get_by_role("heading", level=1)).to_have_text("Différences entre v1 et v2")
    timers = manager.locator('section[data-category="timers"]')
    expect(timers).to_be_visible()
    timer = timers.locator(f'li.diff-entry[data-element-id="{J1_TIMER}"]')
    expect(timer).to_contain_text("Lendemain de la sortie, 10 h")
    expect(timer.locator(".before")).to_contain_text("date_chirurgie + timedelta(days=1 + nuits_hospitalisation")
    expect(timer.locator(".after")).to_contain_text("date_chirurgie + timedelta(days=2 + nuits_hospitalisation")
    expect(manager.locator("section.diff-group")).to_have_count(1)  # nothing else changed
    changed = manager.locator(f'#diagram[data-markers-ready="1"] g.djs-element[data-element-id="{J1_TIMER}"]')
    expect(changed).to_have_class(re.compile(r"\bdiff-changed\b"))  # marked on v2's diagram
    _no_csp_violation(manager)
    shots.take(manager, "differences-v1-v2")
    shots.take_element(manager.locator("#diagram"), "differences-sur-le-schema")

    # 4. The version page: the diagram (bpmn-js viewer) and the steps.
    manager.get_by_role("link", name="v2", exact=True).first.click()
    expect(manager).to_have_url(re.compile(r"/studio/pathways/rrac_epaule/v2/$"))
    diagram = manager.locator('#diagram[data-markers-ready="1"]')
    expect(diagram).to_be_visible()
    expect(manager.locator(f'#diagram g.djs-element[data-element-id="{J1_CALL}"]')).to_have_count(1)
    expect(manager.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io watermark, as its licence asks
    expect(manager.locator(f'tr[data-step="{J1_TIMER}"]')).to_contain_text("days=2 + nuits_hospitalisation")
    _no_csp_violation(manager)
    shots.take_element(diagram, "diagramme-v2")

    # 5. She simulates v2 with the surgery in two weeks, over two months.
    manager.get_by_role("link", name="Simuler").click()
    expect(manager).to_have_url(re.compile(r"/v2/simulate$"))
    today = datetime.now(PARIS).date()
    surgery = today + timedelta(days=14)
    manager.locator('input[name="anchor:date_chirurgie"]').fill(surgery.isoformat())
    manager.locator('input[name="months"]').fill("2")
    shots.take(manager, "simulation-formulaire")
    manager.locator('[data-action="simulate"]').click()
    manager.wait_for_load_state()

    # 6. The timeline: the nurse's J+1 call opens on J+2 (the day after the day after surgery), at 10:00,
    #    in the week of that day.
    call = manager.locator(f'tr[data-kind="ouverture"][data-element-id="{J1_CALL}"]')
    expect(call).to_have_count(1)
    expect(call).to_contain_text(J1_CALL_TITLE)
    expect(call).to_contain_text("infirmier")
    expect(call.locator(".jday")).to_have_text("J+2")
    expect(call).to_have_attribute("data-day", "2")
    expect(call.locator(".sim-when")).to_contain_text("10:00")
    call_day = surgery + timedelta(days=2)
    year, week, _ = call_day.isocalendar()
    week_section = manager.locator(f'section.sim-week[data-iso-week="{year}-W{week:02d}"]')
    expect(week_section.locator(f'tr[data-element-id="{J1_CALL}"]')).to_have_count(1)
    monday = date.fromordinal(call_day.toordinal() - call_day.weekday())
    expect(week_section.locator("h3")).to_contain_text(f"{monday.day}")
    expect(manager.locator('tr[data-kind="rappel"]').first).to_contain_text("sms")
    _no_csp_violation(manager)
    call.scroll_into_view_if_needed()
    shots.take(manager, "simulation-appel-j2")

    # Nothing was enrolled or sent: v2 still has no instance.
    with live_server.database():
        version = db.session.scalar(select(PathwayVersion).where(PathwayVersion.key == "rrac_epaule",
                                                                 PathwayVersion.version == 2))
        assert db.session.scalar(select(PathwayInstance.id).where(PathwayInstance.version_id == version.id)) is None
