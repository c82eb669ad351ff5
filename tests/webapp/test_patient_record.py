"""The patient list and record: who sees what, identity (INS), contact preferences, enrolment from the page."""

from __future__ import annotations

from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent, PathwayInstance, Patient, WorkItem
from tests.factories import deploy_test_bpmn
from tests.webapp.records import audit_actions, enrol_appel_douleur, team_and_outsider


def _page(web, path):
    response = web.client.get(path)
    return response, response.get_data(as_text=True)


def test_patient_list_shows_my_patients_with_pathways_and_counts_when_in_the_care_team(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    enrol_appel_douleur(patient, clock)
    response, html = _page(browser_for("infirmier"), "/patients/")
    assert response.status_code == 200
    assert "MARTIN Jeanne" in html and "P-001" in html
    assert "Appel J+1 et douleur" in html
    listed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.listed"))
    assert listed is not None and listed.details["patients"] == [patient.id]


def test_patient_list_is_empty_and_search_filters_when_outside_the_team(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    _, html = _page(browser_for("intrus"), "/patients/")
    assert "MARTIN" not in html
    nurse = browser_for("infirmier")
    assert "MARTIN Jeanne" in _page(nurse, "/patients/?q=jean")[1]
    assert "MARTIN Jeanne" in _page(nurse, "/patients/?q=p-001")[1]
    assert "MARTIN Jeanne" not in _page(nurse, "/patients/?q=dupont")[1]


def test_record_shows_identity_team_and_pathways_when_in_the_care_team(app, clock, browser_for):
    patient, team, _outsider = team_and_outsider(clock)
    instance_id = enrol_appel_douleur(patient, clock)
    response, html = _page(browser_for("infirmier"), f"/patients/{patient.id}")
    assert response.status_code == 200
    assert "Identité" in html and "Équipe de soins" in html
    assert "Dr chirurgien" in html and "Chirurgien" in html
    assert f'data-instance="{instance_id}"' in html and "Date de la chirurgie : lun. 16 nov. 2026" in html
    assert audit_actions(patient.id, actor_label="infirmier")[-2:] == ["patient.viewed", "patient.timeline_viewed"]


def test_ins_is_masked_for_a_nurse_and_shown_to_the_site_coordinator_when_qualified(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    db.session.get(Patient, patient.id).ins = "2801275123456"
    db.session.get(Patient, patient.id).ins_qualified = True
    db.session.commit()
    nurse_html = _page(browser_for("infirmier"), f"/patients/{patient.id}")[1]
    assert "INS qualifiée" in nurse_html and "2801275123456" not in nurse_html and "•••••••••••56" in nurse_html
    assert "2801275123456" in _page(browser_for("coordinateur"), f"/patients/{patient.id}")[1]


def test_every_patient_route_answers_404_and_is_audited_as_denied_when_outside_the_care_team(app, clock, browser_for):
    patient, team, _outsider = team_and_outsider(clock)
    instance_id = enrol_appel_douleur(patient, clock)
    member_id = db.session.execute(db.text("SELECT id FROM care_team_member LIMIT 1")).scalar()
    base = f"/patients/{patient.id}"
    intrus = browser_for("intrus")
    token = intrus.token_of("/patients/")
    gets = [base, f"{base}/timeline", f"{base}/instances/{instance_id}", f"{base}/instances/{instance_id}/diagram.json",
            f"{base}/access-log"]
    posts = [(f"{base}/preferences", {"preferred_channel": "email"}),
             (f"{base}/care-team", {"professional_id": str(team["chirurgien"].id), "role": "chirurgien",
                                    "start": "2026-11-16"}),
             (f"{base}/care-team", {}),  # even invalid input: 404 first, no validation message
             (f"{base}/care-team/{member_id}/end", {}),
             (f"{base}/enrol", {"pathway": "appel_douleur", "date_chirurgie": "2026-12-01"}),
             (f"{base}/enrol", {"pathway": "appel_douleur", "date_chirurgie": "bad"})]
    for path in gets:
        assert intrus.client.get(path).status_code == 404, path
    for path, data in posts:
        assert intrus.client.post(path, data={**data, "csrf_token": token}).status_code == 404, path
    denied = audit_actions(patient.id, outcome="denied", actor_label="intrus")
    assert len(denied) == len(gets) + len(posts)
    assert {"patient.viewed", "patient.timeline_viewed", "instance.diagram_viewed", "patient.access_log_viewed",
            "patient.preferences", "care_team.member_added", "care_team.member_ended", "instance.enrol"} <= set(denied)
    assert db.session.get(Patient, patient.id).preferred_channel == "sms"
    assert db.session.scalar(select(db.func.count(PathwayInstance.id))) == 1


def test_missing_patient_is_404_like_a_forbidden_one(app, clock, browser_for):
    team_and_outsider(clock)
    assert browser_for("infirmier").client.get("/patients/9999").status_code == 404


def test_contact_preferences_are_saved_and_audited_when_the_nurse_edits_them(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    nurse = browser_for("infirmier")
    response = nurse.post_form(f"/patients/{patient.id}", f"/patients/{patient.id}/preferences",
                               {"preferred_channel": "email", "opt_out_sms": "1", "quiet_hours": "21:00-08:00"})
    assert response.status_code == 302
    saved = db.session.get(Patient, patient.id, populate_existing=True)
    assert (saved.preferred_channel, saved.opt_out_sms, saved.opt_out_email, saved.quiet_hours) == (
        "email", True, False, "21:00-08:00")
    assert {"patient.opt_out", "patient.preferences_changed"} <= set(audit_actions(patient.id))


def test_bad_quiet_hours_are_refused_next_to_the_field_when_malformed(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    response = browser_for("infirmier").post_form(f"/patients/{patient.id}", f"/patients/{patient.id}/preferences",
                                                  {"preferred_channel": "sms", "quiet_hours": "le soir"})
    assert response.status_code == 422
    assert 'id="err-quiet_hours"' in response.get_data(as_text=True)
    assert db.session.get(Patient, patient.id, populate_existing=True).quiet_hours is None


def test_enrol_form_lists_the_pathway_anchor_dates(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    deploy_test_bpmn("appel_douleur", clock)
    html = _page(browser_for("infirmier"), f"/patients/{patient.id}")[1]
    assert 'data-pathway="appel_douleur"' in html
    assert 'name="date_chirurgie"' in html and 'type="date"' in html


def test_enrol_is_refused_with_the_field_message_when_the_anchor_is_missing_or_bad(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    deploy_test_bpmn("appel_douleur", clock)
    nurse = browser_for("infirmier")
    for value, message in (("", "Date obligatoire."), ("16/11/2026", "Date invalide")):
        response = nurse.post_form(f"/patients/{patient.id}", f"/patients/{patient.id}/enrol",
                                   {"pathway": "appel_douleur", "date_chirurgie": value})
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert 'id="err-date_chirurgie"' in html and message in html
    assert db.session.scalar(select(db.func.count(PathwayInstance.id))) == 0


def test_enrol_from_the_page_shows_the_new_instance_and_its_first_work_items(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    deploy_test_bpmn("appel_douleur", clock)
    nurse = browser_for("infirmier")
    response = nurse.post_form(f"/patients/{patient.id}", f"/patients/{patient.id}/enrol",
                               {"pathway": "appel_douleur", "date_chirurgie": "2026-11-14"})
    assert response.status_code == 302
    instance = db.session.scalar(select(PathwayInstance))
    assert instance.context == {"date_chirurgie": "2026-11-14"}
    assert response.headers["Location"].endswith(f"/patients/{patient.id}/instances/{instance.id}")
    item = db.session.scalar(select(WorkItem).where(WorkItem.instance_id == instance.id))
    assert item is not None and item.element_id == "appel_j1"  # J+1 10:00 is already past: the call is open
    html = _page(nurse, f"/patients/{patient.id}")[1]
    assert f'data-instance="{instance.id}"' in html
    assert "Appeler le patient (J+1)" in html
    assert "instance.enrolled" in audit_actions(patient.id, actor_label="infirmier")


def test_enrol_twice_on_the_same_pathway_is_refused_with_409(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    enrol_appel_douleur(patient, clock)
    response = browser_for("infirmier").post_form(f"/patients/{patient.id}", f"/patients/{patient.id}/enrol",
                                                  {"pathway": "appel_douleur", "date_chirurgie": "2026-11-20"})
    assert response.status_code == 409
    assert "suit déjà ce parcours" in response.get_data(as_text=True)
