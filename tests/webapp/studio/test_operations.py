"""The studio's operations pages: versions in use, instances in error with retry / skip / cancel, the cohort of a
version and the patients at one element. Care managers only; their site's patients only."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent, PathwayInstance, WorkItem
from tests.engine.test_cohort import cohort
from tests.engine.test_incidents import script_in_error
from tests.engine.test_version_migration import care_manager
from tests.webapp.conftest import csrf_token

OPS = "/studio/operations/"


def _reasoned(web, instance_id: int, action: str, reason: str):
    token = csrf_token(web.client.get(OPS))
    return web.client.post(f"{OPS}instances/{instance_id}/{action}", data={"reason": reason, "csrf_token": token})


def test_index_shows_versions_in_use_and_the_instances_in_error_with_their_actions(app, clock, browser_for):
    instance_id, patient, _team = script_in_error(clock)
    care_manager(clock)
    response = browser_for("coordinateur").client.get(OPS)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    version_id = db.session.get(PathwayInstance, instance_id).version_id
    assert re.search(rf'data-version-id="{version_id}">.*?running-count">0<.*?error-count late">1<', html, re.S)
    row = html[html.index(f'data-instance-id="{instance_id}"'):]
    assert "Dose à H+1" in row and "division by zero" in row and f'href="/patients/{patient.id}"' in row
    for action in ("retry", "skip", "cancel"):
        assert f'action="{OPS}instances/{instance_id}/{action}"' in row
    assert f'href="{OPS}versions/{version_id}/"' in html
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "incident.listed")).details[
        "patients"] == [patient.id]


def test_operations_pages_are_forbidden_to_a_professional_who_is_not_a_care_manager(app, clock, browser_for):
    instance_id, _patient, _team = script_in_error(clock)
    nurse = browser_for("infirmier")
    version_id = db.session.get(PathwayInstance, instance_id).version_id
    for path in (OPS, f"{OPS}versions/{version_id}/", f"{OPS}versions/{version_id}/elements/calcul_h1/",
                 f"{OPS}versions/{version_id}/cohort.json", f"{OPS}migrations?from={version_id}&to={version_id}"):
        assert nurse.client.get(path).status_code == 403, path
    token = csrf_token(nurse.client.get("/inbox/"))
    assert nurse.client.post(f"{OPS}instances/{instance_id}/retry", data={"csrf_token": token}).status_code == 403
    assert db.session.get(PathwayInstance, instance_id).status == "error"


def test_a_care_manager_of_another_site_sees_none_of_these_patients(app, clock, browser_for):
    instance_id, patient, _team = script_in_error(clock)
    care_manager(clock, login="coord-ailleurs", site="Autre site")
    other = browser_for("coord-ailleurs")
    html = other.client.get(OPS).get_data(as_text=True)
    assert f'data-instance-id="{instance_id}"' not in html and patient.family_name.upper() not in html
    token = csrf_token(other.client.get(OPS))
    assert other.client.post(f"{OPS}instances/{instance_id}/retry", data={"csrf_token": token}).status_code == 404
    assert db.session.get(PathwayInstance, instance_id).status == "error"
    denied = db.session.scalar(select(AuditEvent).where(AuditEvent.outcome == "denied"))
    assert (denied.action, denied.actor_label, denied.patient_id) == ("instance.retried", "coord-ailleurs", patient.id)


def test_retry_that_fails_again_says_so_and_keeps_the_error(app, clock, browser_for):
    instance_id, _patient, _team = script_in_error(clock)
    care_manager(clock)
    web = browser_for("coordinateur")
    token = csrf_token(web.client.get(OPS))
    response = web.client.post(f"{OPS}instances/{instance_id}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    page = web.client.get(OPS).get_data(as_text=True)
    assert "de nouveau en erreur" in page
    assert db.session.get(PathwayInstance, instance_id).status == "error"
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "instance.retried")).outcome == "error"


def test_skip_without_a_reason_is_refused_then_done_with_one(app, clock, browser_for):
    instance_id, _patient, _team = script_in_error(clock)
    care_manager(clock)
    web = browser_for("coordinateur")
    refused = _reasoned(web, instance_id, "skip", "   ")
    assert refused.status_code == 422
    assert "Un motif est obligatoire" in refused.get_data(as_text=True)
    assert db.session.get(PathwayInstance, instance_id).status == "error"
    done = _reasoned(web, instance_id, "skip", "Dose calculée à la main")
    assert done.status_code == 302
    assert db.session.get(PathwayInstance, instance_id).status == "active"
    assert db.session.scalar(select(WorkItem.element_id).where(WorkItem.instance_id == instance_id)) == "suivi"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "instance.step_skipped"))
    assert event.details["reason"] == "Dose calculée à la main"


def test_cancel_with_a_reason_ends_the_instance_and_a_second_try_is_refused(app, clock, browser_for):
    instance_id, _patient, _team = script_in_error(clock)
    care_manager(clock)
    web = browser_for("coordinateur")
    assert _reasoned(web, instance_id, "cancel", "Sortie du parcours").status_code == 302
    assert db.session.get(PathwayInstance, instance_id).status == "cancelled"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "instance.cancelled"))
    assert event.details["reason"] == "Sortie du parcours"
    token = csrf_token(web.client.get(OPS))
    again = web.client.post(f"{OPS}instances/{instance_id}/retry", data={"csrf_token": token})
    assert again.status_code == 409
    assert "not in error" in again.get_data(as_text=True)


def test_cohort_page_counts_per_element_and_its_json_feeds_the_diagram(app, clock, browser_for):
    version_id, _patients = cohort(clock)
    care_manager(clock)
    clock.advance(timedelta(hours=7))
    web = browser_for("coordinateur")
    html = web.client.get(f"{OPS}versions/{version_id}/").get_data(as_text=True)
    assert re.search(r'data-element-id="bilan">.*?waiting-count">2<.*?overdue-count late">2<', html, re.S)
    assert re.search(r'data-element-id="relance">.*?waiting-count">3<.*?overdue-count ">0<', html, re.S)
    assert 'id="cohort-diagram"' in html and "js/studio/cohort.js" in html
    assert 'href="/studio/pathways/cohorte_ops/v1/"' in html  # the version in the library
    data = web.client.get(f"{OPS}versions/{version_id}/cohort.json").get_json()
    assert data["counts"]["bilan"] == {"waiting": 2, "overdue": 2, "errors": 0}
    assert data["counts"]["attente"]["waiting"] == 3 and "<bpmn:definitions" in data["xml"]


def test_element_page_lists_the_site_patients_with_links_to_their_record_audited(app, clock, browser_for):
    version_id, patients = cohort(clock)
    care_manager(clock)
    html = browser_for("coordinateur").client.get(f"{OPS}versions/{version_id}/elements/bilan/").get_data(
        as_text=True)
    martin = db.session.get(PathwayInstance, patients["Martin"]).patient_id
    assert f'href="/patients/{martin}"' in html and "MARTIN" in html and "DURAND" in html
    assert "PETIT" not in html and "LEROY" not in html  # assessment done; another site
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "cohort.element_viewed"))
    assert martin in event.details["patients"] and len(event.details["patients"]) == 2
    assert browser_for("coordinateur").client.get(f"{OPS}versions/{version_id}/elements/nope/").status_code == 404


def test_another_site_care_manager_sees_only_their_own_patient_at_an_element(app, clock, browser_for):
    version_id, _patients = cohort(clock)
    care_manager(clock, login="coord-ailleurs", site="Autre site")
    html = browser_for("coord-ailleurs").client.get(f"{OPS}versions/{version_id}/elements/bilan/").get_data(
        as_text=True)
    assert "LEROY" in html and "MARTIN" not in html and "DURAND" not in html
