"""The pathway diagram: the vendored bpmn-js viewer is served, and the instance's markers come from the tables."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from engine.db import db
from engine.models import Professional
from engine.services.instances import enrol_patient
from engine.types import Actor
from tests.conftest import REPO
from tests.factories import deploy_test_bpmn
from tests.pathways.test_rrac_epaule import _enrol, _to_j1_call
from tests.webapp.records import audit_actions, enrol_appel_douleur, team_and_outsider
from tests.webapp.test_timeline import _j1_call_done_with_pain

VENDOR = REPO / "webapp" / "static" / "vendor" / "bpmn-js"


def _diagram(web, patient_id: int, instance_id: int) -> dict:
    response = web.client.get(f"/patients/{patient_id}/instances/{instance_id}/diagram.json")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_vendored_bpmn_js_files_and_licence_are_served(app, web):
    for name in ("bpmn-navigated-viewer.production.min.js", "assets/bpmn-js.css", "assets/diagram-js.css",
                 "assets/bpmn-font/css/bpmn.css", "assets/bpmn-font/font/bpmn.woff2", "LICENSE"):
        response = web.client.get(f"/static/vendor/bpmn-js/{name}")
        assert response.status_code == 200, name
        response.close()
    assert "Camunda Services GmbH" in (VENDOR / "LICENSE").read_text()
    assert "bpmn.io" in (VENDOR / "LICENSE").read_text()  # the watermark clause travels with the files
    assert (VENDOR / "VERSION").read_text().strip() in (VENDOR / "README.md").read_text()
    script = web.client.get("/static/js/diagram.js")
    assert script.status_code == 200 and b"data-markers-ready" in script.data
    script.close()


def test_instance_page_loads_the_viewer_from_files_only(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    instance_id = enrol_appel_douleur(patient, clock)
    html = browser_for("infirmier").client.get(f"/patients/{patient.id}/instances/{instance_id}").get_data(
        as_text=True)
    assert '<script src="/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js"></script>' in html
    assert '<script src="/static/js/diagram.js"></script>' in html
    assert "<script>" not in html  # the CSP allows no inline script
    for marker in ("step-done", "step-active", "step-waiting", "step-overdue"):
        assert f'class="swatch {marker}"' in html  # the legend


def test_markers_show_the_j1_call_done_and_the_urgent_opinion_active_after_pain_8(app, clock, browser_for):
    patient, team, _outsider = team_and_outsider(clock)
    instance_id = _j1_call_done_with_pain(clock, patient, team)
    body = _diagram(browser_for("infirmier"), patient.id, instance_id)
    assert body["xml"].startswith("<?xml") and 'id="appel_douleur"' in body["xml"]
    assert body["markers"] == {"done": ["appel_j1", "start", "timer_j1"], "active": ["avis_urgent"], "waiting": [],
                               "overdue": []}
    assert "instance.diagram_viewed" in audit_actions(patient.id, actor_label="infirmier")


def test_markers_show_the_pending_timer_as_waiting_right_after_enrolment(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    instance_id = enrol_appel_douleur(patient, clock)
    assert _diagram(browser_for("infirmier"), patient.id, instance_id)["markers"] == {
        "done": ["start"], "active": [], "waiting": ["timer_j1"], "overdue": []}


def test_markers_show_an_open_item_past_due_as_overdue(app, clock, browser_for):
    patient, team, _outsider = team_and_outsider(clock)
    instance_id = _j1_call_done_with_pain(clock, patient, team)
    clock.advance(timedelta(hours=5))  # the urgent opinion was due within 4 hours
    markers = _diagram(browser_for("chirurgien"), patient.id, instance_id)["markers"]
    assert markers["overdue"] == ["avis_urgent"] and markers["active"] == []


def test_markers_show_a_message_catch_event_as_waiting(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    deploy_test_bpmn("message_result", clock)
    outcome = enrol_patient(patient.id, "message_result", actor=Actor.cli(), clock=clock)
    db.session.commit()
    markers = _diagram(browser_for("infirmier"), patient.id, outcome.instance_id)["markers"]
    assert markers["waiting"] == ["attente_inr"]


def test_shipped_shoulder_pathway_diagram_has_its_layout_and_markers_after_the_j1_call(app, clock, web):
    w = _enrol(clock)
    _to_j1_call(w)
    w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=8)
    nurse = db.session.scalar(select(Professional).where(Professional.login == "infirmier"))
    nurse.password_hash = generate_password_hash("demo")
    db.session.commit()
    assert web.login("infirmier").status_code == 302
    body = _diagram(web, w.patient.id, w.instance_id)
    assert "BPMNDiagram" in body["xml"]  # the layout bpmn-js draws
    assert "Task_AppelJ1" in body["markers"]["done"]
    assert "Task_ConsultationChirurgicale" in body["markers"]["done"]
    assert body["markers"]["active"] == ["Task_AvisChirurgienUrgent"]
