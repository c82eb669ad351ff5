"""Coordinator views: open work of the site's patients late first, counts per pathway / step / assignee,
and the patient's access log."""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent, WorkItem
from engine.services.inbox import complete_work_item
from engine.services.instances import enrol_patient
from engine.services.people import add_care_team_member, create_patient, create_professional
from engine.types import Actor
from tests.conftest import PARIS
from tests.factories import actor, deploy_test_bpmn
from tests.webapp.records import enrol_appel_douleur, team_and_outsider

ROW = re.compile(r'<tr data-work-item="(\d+)" class="(overdue|)">')


def _two_patients(clock):
    """P-001: the J+1 call (due 16 Nov 16:00); P-002: the GP synthesis in the GP queue; P-003 on another site."""
    patient, team, _outsider = team_and_outsider(clock)
    enrol_appel_douleur(patient, clock, day=date(2026, 11, 14))
    other = create_patient("P-002", "Durand", "Paul", at=clock.now(), site="MSP Test")
    add_care_team_member(other, team["infirmier"], "infirmier", start=clock.now())
    elsewhere = create_patient("P-003", "Leroy", "Anne", at=clock.now(), site="Autre site")
    deploy_test_bpmn("nurse_then_gp", clock)
    for who in (other, elsewhere):
        enrol_patient(who.id, "nurse_then_gp", actor=Actor.cli(), clock=clock)
    db.session.commit()
    bilan = db.session.scalar(select(WorkItem).where(WorkItem.patient_id == other.id))
    complete_work_item(bilan.id, {}, actor=actor(team["infirmier"]), clock=clock)
    db.session.commit()
    clock.set(datetime(2026, 11, 16, 17, 0, tzinfo=PARIS))
    return patient, other, elsewhere, team


def test_coordinator_sees_the_site_open_work_late_first_with_counts(app, clock, browser_for):
    patient, other, _elsewhere, team = _two_patients(clock)
    response = browser_for("coordinateur").client.get("/coordination/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    call = db.session.scalar(select(WorkItem).where(WorkItem.element_id == "appel_j1"))
    synthesis = db.session.scalar(select(WorkItem).where(WorkItem.patient_id == other.id, WorkItem.status == "open"))
    assert ROW.findall(html) == [(str(call.id), "overdue"), (str(synthesis.id), "")]
    assert "Leroy" not in html  # another site's patient
    per_pathway = html[html.index('class="per-pathway"'):html.index('class="per-assignee"')]
    assert re.search(r'data-pathway="appel_douleur">.*?open-count">1<.*?overdue-count late">1<', per_pathway)
    assert re.search(r'data-pathway="nurse_then_gp">.*?open-count">1<.*?overdue-count ">0<', per_pathway)
    assert re.search(r'data-step="appel_j1">.*?open-count">1<', html)
    assert re.search(r'data-assignee="Dr infirmier">.*?open-count">1<.*?overdue-count late">1<', html)
    assert re.search(r'data-queue="medecin_traitant">.*?open-count">1<', html)
    assert f'href="/patients/{patient.id}"' in html and f'href="/inbox/items/{call.id}"' in html
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "coordination.viewed")).details[
        "patients"] == sorted([patient.id, other.id])


def test_coordination_filters_by_pathway(app, clock, browser_for):
    _patient, other, _elsewhere, _team = _two_patients(clock)
    html = browser_for("coordinateur").client.get("/coordination/?pathway=nurse_then_gp").get_data(as_text=True)
    synthesis = db.session.scalar(select(WorkItem).where(WorkItem.patient_id == other.id, WorkItem.status == "open"))
    assert ROW.findall(html) == [(str(synthesis.id), "")]


def test_coordination_is_forbidden_to_a_professional_who_is_not_a_coordinator(app, clock, browser_for):
    team_and_outsider(clock)
    assert browser_for("infirmier").client.get("/coordination/").status_code == 403


def test_access_log_lists_who_read_the_record_including_refusals(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    browser_for("infirmier").client.get(f"/patients/{patient.id}")
    assert browser_for("intrus").client.get(f"/patients/{patient.id}").status_code == 404
    response = browser_for("coordinateur").client.get(f"/patients/{patient.id}/access-log")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = re.findall(r'<tr class="outcome-(\w+)" data-action="([\w.]+)">\s*<td>[^<]*</td><td>(\w+)', html)
    assert ("success", "patient.viewed", "infirmier") in rows
    assert ("denied", "patient.viewed", "intrus") in rows
    assert rows.index(("denied", "patient.viewed", "intrus")) < rows.index(("success", "patient.viewed", "infirmier"))


def test_access_log_is_403_for_a_care_team_member_and_404_for_another_site_coordinator(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    create_professional("coord-ailleurs", "Coord Ailleurs", ["coordinateur"], at=clock.now(), site="Autre site",
                        password="demo")
    db.session.commit()
    assert browser_for("infirmier").client.get(f"/patients/{patient.id}/access-log").status_code == 403
    assert browser_for("coord-ailleurs").client.get(f"/patients/{patient.id}/access-log").status_code == 404
    denied = db.session.scalar(select(AuditEvent).where(AuditEvent.outcome == "denied"))
    assert (denied.actor_label, denied.action) == ("coord-ailleurs", "patient.access_log_viewed")


def test_access_log_is_paginated_newest_first(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    nurse = browser_for("infirmier")
    for _ in range(26):  # two audited reads per page view (record + timeline): 52 events
        nurse.client.get(f"/patients/{patient.id}")
    coordinator = browser_for("coordinateur")
    first = coordinator.client.get(f"/patients/{patient.id}/access-log").get_data(as_text=True)
    assert first.count('<tr class="outcome-') == 50 and "?page=2" in first
    second = coordinator.client.get(f"/patients/{patient.id}/access-log?page=2").get_data(as_text=True)
    assert second.count('<tr class="outcome-') >= 2 and "?page=1" in second
    assert coordinator.client.get(f"/patients/{patient.id}/access-log?page=0").status_code == 422
