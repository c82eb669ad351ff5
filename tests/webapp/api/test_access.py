"""Outside the care team, every patient-scoped endpoint answers 404 and the attempt is audited as denied."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent, CareTeamMember, WorkItem
from tests.webapp.api.conftest import problem

# (method, path template, JSON body): every endpoint that touches one patient's data.
PATIENT_ENDPOINTS = [
    ("GET", "/api/v1/patients/{patient}", None),
    ("GET", "/api/v1/patients/{patient}/care-team", None),
    ("POST", "/api/v1/patients/{patient}/care-team", {"professional": "intrus", "role": "infirmier"}),
    ("GET", "/api/v1/patients/{patient}/enrolments", None),
    ("POST", "/api/v1/patients/{patient}/enrolments", {"pathway": "nurse_then_gp"}),
    ("POST", "/api/v1/patients/{patient}/messages", {"name": "resultat_inr", "data": {}}),
    ("GET", "/api/v1/patients/{patient}/reminders", None),
    ("GET", "/api/v1/enrolments/{instance}", None),
    ("GET", "/api/v1/work-items?patient={patient}", None),
    ("GET", "/api/v1/work-items/{item}", None),
    ("POST", "/api/v1/work-items/{item}/claim", None),
    ("POST", "/api/v1/work-items/{item}/complete", {"data": {}}),
]


@pytest.mark.parametrize(("method", "template", "body"), PATIENT_ENDPOINTS,
                         ids=[f"{m} {t}" for m, t, _ in PATIENT_ENDPOINTS])
def test_a_professional_outside_the_care_team_gets_404_and_is_audited(app, clock, ward, api_for, method, template,
                                                                      body):
    path = template.format(patient=ward.patient.id, instance=ward.instance_id, item=ward.work_item_id)
    api = api_for("intrus")
    response = api.get(path) if method == "GET" else api.post(path, json=body)
    assert response.status_code == 404, response.get_data(as_text=True)
    assert "Introuvable" in problem(response)["detail"]
    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    assert [(e.actor_label, e.patient_id) for e in denied] == [("intrus", ward.patient.id)]
    # Nothing was written for the outsider.
    assert db.session.get(WorkItem, ward.work_item_id).status == "open"
    assert db.session.scalar(select(CareTeamMember).where(CareTeamMember.professional_id == ward.outsider.id)) is None


def test_the_outsider_sees_none_of_the_patient_in_lists(app, clock, ward, api_for):
    api = api_for("intrus")
    assert api.get("/api/v1/patients").get_json()["items"] == []
    assert api.get("/api/v1/work-items").get_json()["items"] == []


def test_a_site_coordinator_sees_the_site_patients(app, clock, ward, api_for):
    from engine.services.people import create_professional

    create_professional("coord", "Coordinatrice", ["coordinateur"], at=clock.now(), site="MSP Test")
    db.session.commit()
    api = api_for("coord")
    assert [p["id"] for p in api.get("/api/v1/patients").get_json()["items"]] == [ward.patient.id]
    assert api.get(f"/api/v1/patients/{ward.patient.id}/care-team").status_code == 200


READS = [(m, t) for m, t, _ in PATIENT_ENDPOINTS if m == "GET"] + [("GET", "/api/v1/patients"),
                                                                  ("GET", "/api/v1/work-items")]


@pytest.mark.parametrize(("method", "template"), READS, ids=[t for _, t in READS])
def test_every_read_of_patient_data_is_audited_with_the_patient(app, clock, ward, api_for, method, template):
    api = api_for("infirmier")
    response = api.get(template.format(patient=ward.patient.id, instance=ward.instance_id, item=ward.work_item_id))
    assert response.status_code == 200
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.actor_label == "infirmier")).all()
    assert len(events) == 1
    event = events[0]
    assert event.outcome == "success"
    assert event.patient_id == ward.patient.id or ward.patient.id in event.details["patients"]


def test_unknown_paths_and_methods_answer_problem_json(app, clock, ward, api_for):
    api = api_for("infirmier")
    assert problem(api.get("/api/v1/nothing-here"))["status"] == 404
    wrong_method = api.client.delete(f"/api/v1/patients/{ward.patient.id}",
                                     headers={"Authorization": f"Bearer {api.token}"})
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    assert problem(wrong_method)["status"] == 405
