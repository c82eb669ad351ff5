"""Cursor pagination: following `next` visits every item exactly once, in the list's order."""

from __future__ import annotations

from datetime import timedelta

from engine.db import db
from engine.services.instances import enrol_patient
from engine.services.people import add_care_team_member, create_patient
from engine.types import Actor
from tests.factories import deploy_test_bpmn


def _walk(api, first: str) -> list[int]:
    seen, url, pages = [], first, 0
    while url:
        body = api.get(url).get_json()
        seen += [row["id"] for row in body["items"]]
        url, pages = body["next"], pages + 1
        assert pages < 50
    return seen


def _more_patients(ward, clock, count: int) -> None:
    deploy_test_bpmn("message_result", clock)  # its work items have no due date: they come last
    for n in range(count):
        patient = create_patient(f"P-{100 + n}", "Durand", f"Patient {n}", at=clock.now(), site="MSP Test")
        add_care_team_member(patient, ward.team["infirmier"], "infirmier", start=clock.now())
        if n % 3:
            clock.advance(timedelta(minutes=10 * (n % 2)))  # some due dates tie, some differ
        enrol_patient(patient.id, "nurse_then_gp", actor=Actor.cli(), clock=clock)
    db.session.commit()


def test_walking_the_work_item_pages_visits_each_item_exactly_once(app, clock, ward, api_for):
    _more_patients(ward, clock, 8)
    api = api_for("infirmier")
    everything = [row["id"] for row in api.get("/api/v1/work-items?limit=200").get_json()["items"]]
    assert len(everything) == 9
    assert _walk(api, "/api/v1/work-items?limit=2") == everything
    assert _walk(api, "/api/v1/work-items?limit=4&status=open") == everything


def test_an_item_completed_between_pages_does_not_shift_the_others(app, clock, ward, api_for):
    _more_patients(ward, clock, 5)
    api = api_for("infirmier")
    everything = [row["id"] for row in api.get("/api/v1/work-items?limit=200").get_json()["items"]]
    first = api.get("/api/v1/work-items?limit=2").get_json()
    done = api.post(f"/api/v1/work-items/{everything[-1]}/complete", json={"data": {}})
    assert done.status_code == 200
    rest = _walk(api, first["next"])
    assert [row["id"] for row in first["items"]] + rest == everything[:-1]


def test_walking_the_patient_pages_visits_each_patient_exactly_once(app, clock, ward, api_for):
    _more_patients(ward, clock, 6)
    api = api_for("infirmier")
    ids = _walk(api, "/api/v1/patients?limit=3")
    assert len(ids) == 7 and len(set(ids)) == 7 and ids == sorted(ids)
