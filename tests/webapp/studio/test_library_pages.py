"""The studio's library pages through the test client, on both databases: the pathways list with running
instances per version, a pathway's history, a version (diagram, steps), its download, the readable
differences; every page is for care managers only."""

from __future__ import annotations

import re

import pytest

from engine.db import db
from engine.services.instances import enrol_patient
from engine.services.people import create_patient, create_professional
from engine.types import Actor
from tests.webapp.studio.rrac_versions import (
    ADDED_FIELD,
    ADDED_STEP,
    J1_TIMER,
    MOVED_STEP,
    deploy,
    deploy_two_versions,
    rrac_source,
)

SITE = "MSP Test"


@pytest.fixture
def people(app, clock):
    create_professional("coordinateur", "Claire Coord", ["coordinateur"], at=clock.now(), site=SITE, password="demo")
    create_professional("infirmier", "Ines Inf", ["infirmier"], at=clock.now(), site=SITE, password="demo")
    db.session.commit()


def _enrol(identifier: str, clock, site: str = SITE) -> None:
    patient = create_patient(identifier, "Patient", identifier, at=clock.now(), site=site)
    enrol_patient(patient.id, "rrac_epaule", context={"date_chirurgie": "2026-12-16"}, actor=Actor.cli(), clock=clock)
    db.session.commit()


def _entry(html: str, element_id: str, change: str | None = None) -> str:
    pattern = rf'<li class="diff-entry[^"]*" data-element-id="{re.escape(element_id)}"' + (
        rf' data-change="{change}"' if change else "") + r".*?</li>"
    found = re.search(pattern, html, re.S)
    assert found, f"no difference shown for {element_id} ({change})"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0)))


def test_library_lists_pathways_with_running_instances_per_version(app, clock, people, browser_for):
    deploy(rrac_source(), clock, Actor.cli("alice"))
    _enrol("P-1", clock)
    _enrol("P-2", clock)
    _enrol("X-1", clock, site="Autre site")
    deploy(rrac_source(j2=True), clock, Actor.cli("bruno"))
    _enrol("P-3", clock)

    response = browser_for("coordinateur").client.get("/studio/")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    row = re.search(r'<tr data-pathway="rrac_epaule">.*?</tr>', html, re.S).group(0)
    assert "RAAC après chirurgie de l&#39;épaule" in row
    assert re.search(r'class="current-version"><a href="/studio/pathways/rrac_epaule/v2/">v2</a>', row)
    assert re.search(r'data-version="1">v1 : <span class="running" data-running="2">', row)  # not the other site's
    assert re.search(r'data-version="2">v2 : <span class="running" data-running="1">', row)
    assert "v2 déployée par bruno" in row
    assert 'href="/studio/"' in html  # the studio's section bar links the library


def test_pathway_history_links_each_version_its_download_diff_and_simulation(app, clock, people, browser_for):
    deploy_two_versions(clock)
    html = browser_for("coordinateur").client.get("/studio/pathways/rrac_epaule/").get_data(as_text=True)
    rows = re.findall(r'<tr data-version="(\d+)">', html)
    assert rows == ["2", "1"]  # newest first
    assert 'href="/studio/pathways/rrac_epaule/diff?from=1&amp;to=2"' in html
    assert 'href="/studio/pathways/rrac_epaule/v1.bpmn"' in html
    assert 'href="/studio/pathways/rrac_epaule/v2/simulate"' in html
    assert "en service" in html
    # the other studio sections: each version is linked to its cohort
    assert 'href="/studio/operations/versions/2/"' in html


def test_version_page_shows_the_diagram_and_the_steps_with_their_properties(app, clock, people, browser_for):
    deploy(rrac_source(), clock)
    client = browser_for("coordinateur").client
    html = client.get("/studio/pathways/rrac_epaule/v1/").get_data(as_text=True)
    assert 'data-src="/studio/pathways/rrac_epaule/v1/diagram.json"' in html
    assert "js/diagram.js" in html
    call = re.sub(r"\s+", " ", re.search(r'<tr data-step="Task_AppelJ1">.*?</tr>', html, re.S).group(0))
    assert "Appeler le patient à J+1" in call and "infirmier" in call
    assert "rrac_appel_j1" in call and "PT2H" in call
    timer = re.search(rf'<tr data-step="{J1_TIMER}">.*?</tr>', html, re.S).group(0)
    assert "days=1 + nuits_hospitalisation" in timer
    diagram = client.get("/studio/pathways/rrac_epaule/v1/diagram.json").get_json()
    assert diagram["xml"].startswith("<?xml") and diagram["markers"] == {}


def test_download_gives_the_stored_bpmn_file(app, clock, people, browser_for):
    version = deploy(rrac_source(), clock)
    response = browser_for("coordinateur").client.get("/studio/pathways/rrac_epaule/v1.bpmn")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="rrac_epaule-v1.bpmn"'
    assert response.get_data(as_text=True) == version.bpmn_xml


def test_diff_page_reads_as_the_changes_a_care_manager_made(app, clock, people, browser_for):
    deploy_two_versions(clock)
    response = browser_for("coordinateur").client.get("/studio/pathways/rrac_epaule/diff?from=1&to=2")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    groups = re.findall(r'<section class="card diff-group" data-category="(\w+)">', html)
    assert groups == ["steps", "timers", "flows", "forms"]
    timer = _entry(html, J1_TIMER, "changed")
    assert "modifié Lendemain de la sortie, 10 h (minuteur, date" in timer
    assert "days=1 + nuits_hospitalisation, hours=10) → " in timer.replace("devient ", "")
    assert "days=2 + nuits_hospitalisation" in timer
    added = _entry(html, ADDED_STEP, "added")
    assert "ajouté Rappeler au patient de prendre rendez-vous chez le kinésithérapeute (envoi de message" in added
    assert "rôle : patient" in added and "rappel_rdv_a_prendre" in added
    moved = _entry(html, MOVED_STEP, "moved").replace("devient ", "")
    assert "confié à un autre rôle" in moved and "rôle : infirmier → coordinateur" in moved
    form = _entry(html, "rrac_appel_j1", "added")
    assert f"champ {ADDED_FIELD}" in form and "Température (°C)" in form
    assert 'data-src="/studio/pathways/rrac_epaule/diff.json?from=1&amp;to=2"' in html


def test_diff_diagram_marks_the_added_and_changed_elements_of_the_newer_version(app, clock, people, browser_for):
    _v1, v2 = deploy_two_versions(clock)
    diagram = browser_for("coordinateur").client.get("/studio/pathways/rrac_epaule/diff.json?from=1&to=2").get_json()
    assert diagram["xml"] == v2.bpmn_xml
    assert diagram["markers"] == {
        "diff-added": [f"Flow_{ADDED_STEP}_Gateway_PostOpSplit", ADDED_STEP],
        "diff-changed": ["Flow_Gateway_MergeSortie_Gateway_PostOpSplit", MOVED_STEP, J1_TIMER]}


def test_versions_compared_backwards_show_what_the_newer_one_added_as_removed(app, clock, people, browser_for):
    deploy(rrac_source(), clock)
    deploy(rrac_source(form_field=True), clock)
    html = browser_for("coordinateur").client.get(
        "/studio/pathways/rrac_epaule/diff?from=2&to=1").get_data(as_text=True)
    assert re.findall(r'data-category="(\w+)"', html) == ["forms"]
    assert "supprimé" in _entry(html, "rrac_appel_j1", "removed")


@pytest.mark.parametrize(("query", "status", "reason"), [
    ("", 400, "Indiquez les deux versions"),
    ("?from=1", 400, "Indiquez les deux versions"),
    ("?from=un&to=2", 400, "« from » doit être un numéro de version"),
    ("?from=1&to=-2", 400, "« to » doit être un numéro de version"),
    ("?from=2&to=2", 400, "deux versions différentes"),
    ("?from=1&to=9", 404, "has no version 9"),
])
def test_diff_refuses_bad_version_numbers_with_a_reason(app, clock, people, browser_for, query, status, reason):
    deploy_two_versions(clock, j2=True)
    response = browser_for("coordinateur").client.get(f"/studio/pathways/rrac_epaule/diff{query}")
    assert response.status_code == status
    assert reason in response.get_data(as_text=True)


def test_unknown_pathway_or_version_is_404(app, clock, people, browser_for):
    deploy(rrac_source(), clock)
    client = browser_for("coordinateur").client
    for path in ("/studio/pathways/inconnu/", "/studio/pathways/rrac_epaule/v7/",
                 "/studio/pathways/rrac_epaule/v7.bpmn", "/studio/pathways/rrac_epaule/v7/simulate"):
        assert client.get(path).status_code == 404, path


LIBRARY_PAGES = ["/studio/", "/studio/pathways/rrac_epaule/", "/studio/pathways/rrac_epaule/v1/",
                 "/studio/pathways/rrac_epaule/v1/diagram.json", "/studio/pathways/rrac_epaule/v1.bpmn",
                 "/studio/pathways/rrac_epaule/diff?from=1&to=2", "/studio/pathways/rrac_epaule/diff.json?from=1&to=2",
                 "/studio/pathways/rrac_epaule/v2/simulate"]


def test_every_library_page_is_forbidden_to_a_professional_who_is_not_a_care_manager(app, clock, people,
                                                                                     browser_for):
    deploy_two_versions(clock, j2=True)
    nurse = browser_for("infirmier")
    for path in LIBRARY_PAGES:
        assert nurse.client.get(path).status_code == 403, path
    token = nurse.token_of("/inbox/")
    response = nurse.client.post("/studio/pathways/rrac_epaule/v2/simulate",
                                 data={"csrf_token": token, "start": "2026-11-16", "months": "1"})
    assert response.status_code == 403


def test_library_pages_send_a_signed_out_visitor_to_the_login(app, clock):
    for path in LIBRARY_PAGES:
        response = app.test_client().get(path)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], path
