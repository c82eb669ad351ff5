"""Each API resource's happy path, as an integration sees it."""

from __future__ import annotations

from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent, Reminder, WorkItem
from engine.services.api_tokens import ensure_service_account
from engine.services.people import create_professional
from engine.types import Actor
from tests.factories import deploy_test_bpmn
from tests.webapp.api.conftest import ApiClient, problem, token_for


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_a_nurse_reads_her_patient_and_the_read_is_audited(app, clock, ward, api_for):
    api = api_for("infirmier")
    body = api.get(f"/api/v1/patients/{ward.patient.id}").get_json()
    assert (body["identifier"], body["family_name"], body["preferred_channel"]) == ("P-001", "Martin", "sms")
    assert "ins" not in body
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.read"))
    assert (event.actor_label, event.patient_id, event.outcome) == ("infirmier", ward.patient.id, "success")


def test_the_care_team_lists_members_and_takes_a_new_one(app, clock, ward, api_for):
    create_professional("kine", "M. Kiné", ["kinesitherapeute"], at=clock.now())
    db.session.commit()
    api = api_for("infirmier")
    team = api.get(f"/api/v1/patients/{ward.patient.id}/care-team").get_json()
    assert sorted((m["login"], m["role"], m["active"]) for m in team["members"]) == [
        ("infirmier", "infirmier", True), ("medecin_traitant", "medecin_traitant", True)]
    added = api.post(f"/api/v1/patients/{ward.patient.id}/care-team",
                     json={"professional": "kine", "role": "kinesitherapeute"})
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["login"] == "kine"
    team = api.get(f"/api/v1/patients/{ward.patient.id}/care-team").get_json()
    assert "kine" in {m["login"] for m in team["members"]}
    again = api.post(f"/api/v1/patients/{ward.patient.id}/care-team",
                     json={"professional": "kine", "role": "kinesitherapeute"})
    assert again.status_code == 409
    wrong_role = api.post(f"/api/v1/patients/{ward.patient.id}/care-team",
                          json={"professional": "kine", "role": "chirurgien"})
    assert wrong_role.status_code == 422 and "role" in problem(wrong_role)["errors"]
    assert "care_team.member_added" in _actions()


def test_pathways_versions_and_bpmn_are_readable(app, clock, ward, api_for):
    api = api_for("infirmier")
    catalogue = api.get("/api/v1/pathways").get_json()["items"]
    assert [(p["key"], p["version"], p["active_instances"]) for p in catalogue] == [("nurse_then_gp", 1, 1)]
    versions = api.get("/api/v1/pathways/nurse_then_gp/versions").get_json()["items"]
    assert [v["version"] for v in versions] == [1]
    version = api.get("/api/v1/pathways/nurse_then_gp/versions/1").get_json()
    assert version["anchors"] == [] and version["key"] == "nurse_then_gp"
    bpmn = api.get("/api/v1/pathways/nurse_then_gp/versions/1/bpmn")
    assert bpmn.mimetype == "application/xml" and b'<bpmn:process id="nurse_then_gp"' in bpmn.data
    assert api.get("/api/v1/pathways/nope/versions").status_code == 404
    assert api.get("/api/v1/pathways/nurse_then_gp/versions/9").status_code == 404


def test_enrolment_answers_201_with_its_location_and_lists_with_the_patient(app, clock, ward, api_for):
    deploy_test_bpmn("message_result", clock)
    api = api_for("infirmier")
    response = api.post(f"/api/v1/patients/{ward.patient.id}/enrolments", json={"pathway": "message_result"})
    assert response.status_code == 201, response.get_json()
    location = response.headers["Location"]
    assert location == f"/api/v1/enrolments/{response.get_json()['id']}"
    instance = api.get(location)
    assert instance.get_json()["status"] == "active" and instance.get_json()["pathway"] == "message_result"
    assert instance.headers["ETag"] == f'"{instance.get_json()["lock_version"]}"'
    listed = api.get(f"/api/v1/patients/{ward.patient.id}/enrolments").get_json()["items"]
    assert [i["pathway"] for i in listed] == ["nurse_then_gp", "message_result"]
    twice = api.post(f"/api/v1/patients/{ward.patient.id}/enrolments", json={"pathway": "message_result"})
    assert twice.status_code == 409


def test_enrolment_refuses_a_missing_anchor_date_with_422(app, clock, ward, api_for):
    from tests.conftest import REPO
    from tests.factories import deploy_file

    deploy_file(REPO / "workflows" / "bpmn" / "rrac_epaule.bpmn", clock)
    response = api_for("infirmier").post(f"/api/v1/patients/{ward.patient.id}/enrolments",
                                         json={"pathway": "rrac_epaule", "context": {}})
    assert response.status_code == 422
    assert "date_chirurgie" in problem(response)["detail"]


def test_a_nurse_lists_claims_and_completes_her_work_item_then_the_gp_sees_the_next(app, clock, ward, api_for):
    nurse, gp = api_for("infirmier"), api_for("medecin_traitant")
    page = nurse.get("/api/v1/work-items").get_json()
    assert [i["title"] for i in page["items"]] == ["Bilan infirmier"] and page["next"] is None
    item = nurse.get(f"/api/v1/work-items/{ward.work_item_id}")
    etag = item.headers["ETag"]
    assert item.get_json()["version"] == int(etag.strip('"'))
    claimed = nurse.post(f"/api/v1/work-items/{ward.work_item_id}/claim")
    assert claimed.status_code == 200 and claimed.get_json()["status"] == "claimed"
    assert claimed.headers["ETag"] == etag  # claiming does not step the instance
    done = nurse.post(f"/api/v1/work-items/{ward.work_item_id}/complete", json={"data": {"note": "ok"}},
                      headers={"If-Match": etag})
    assert done.status_code == 200, done.get_json()
    assert done.headers["ETag"] != etag
    assert len(done.get_json()["opened_work_items"]) == 1
    assert nurse.get("/api/v1/work-items").get_json()["items"] == []
    assert [i["title"] for i in gp.get("/api/v1/work-items").get_json()["items"]] == ["Synthèse du médecin traitant"]
    finished = nurse.get(f"/api/v1/work-items/{ward.work_item_id}").get_json()
    assert finished["status"] == "completed" and finished["data"] == {"note": "ok"}


def test_work_item_filters_narrow_the_list(app, clock, ward, api_for):
    api = api_for("infirmier")
    assert len(api.get("/api/v1/work-items?status=open").get_json()["items"]) == 1
    assert api.get("/api/v1/work-items?status=claimed").get_json()["items"] == []
    assert api.get("/api/v1/work-items?overdue=true").get_json()["items"] == []
    assert api.get("/api/v1/work-items?pathway=other").get_json()["items"] == []
    assert len(api.get(f"/api/v1/work-items?pathway=nurse_then_gp&patient={ward.patient.id}")
               .get_json()["items"]) == 1
    assert api.get("/api/v1/work-items?status=done").status_code == 422
    assert api.get("/api/v1/work-items?overdue=maybe").status_code == 400
    assert api.get("/api/v1/work-items?cursor=not-a-cursor").status_code == 400


def test_an_external_result_is_delivered_to_the_waiting_pathway(app, clock, ward, api_for):
    deploy_test_bpmn("message_result", clock)
    api = api_for("infirmier")
    api.post(f"/api/v1/patients/{ward.patient.id}/enrolments", json={"pathway": "message_result"})
    response = api.post(f"/api/v1/patients/{ward.patient.id}/messages", json={"name": "resultat_inr",
                                                                             "data": {"inr": 4.2}})
    assert response.status_code == 200, response.get_json()
    opened = response.get_json()["delivered_to"][0]["opened_work_items"]
    assert db.session.get(WorkItem, opened[0]).title == "Adapter le traitement anticoagulant"
    nobody_waits = api.post(f"/api/v1/patients/{ward.patient.id}/messages", json={"name": "resultat_inr"})
    assert nobody_waits.status_code == 409


def _sent_reminder(ward, clock) -> Reminder:
    reminder = Reminder(dedup_key="test-1", patient_id=ward.patient.id, instance_id=ward.instance_id,
                        recipient="patient", channel="sms", template="rappel", send_at=clock.now(),
                        status="sent", provider_id="prov-42", created_at=clock.now())
    db.session.add(reminder)
    db.session.commit()
    return reminder


def test_reminders_show_their_delivery_status_after_a_provider_receipt(app, clock, ward, api_for):
    reminder = _sent_reminder(ward, clock)
    ensure_service_account("sms-gateway", clock=clock, actor=Actor.cli())
    db.session.commit()
    provider = ApiClient(app, token_for("sms-gateway", clock))
    receipt = provider.post("/api/v1/reminders/callback", json={"provider_id": "prov-42", "status": "DELIVRD"})
    assert receipt.status_code == 200, receipt.get_json()
    assert receipt.get_json() == {"reminder_id": reminder.id, "status": "delivered", "duplicate": False}
    again = provider.post("/api/v1/reminders/callback", json={"provider_id": "prov-42", "status": "DELIVRD"})
    assert again.get_json()["duplicate"] is True
    listed = api_for("infirmier").get(f"/api/v1/patients/{ward.patient.id}/reminders").get_json()["items"]
    assert [(r["id"], r["status"], r["provider_status"]) for r in listed] == [(reminder.id, "delivered", "delivrd")]
    assert provider.get(f"/api/v1/patients/{ward.patient.id}/reminders").status_code == 404  # no patient access


def test_a_professional_token_cannot_post_delivery_receipts(app, clock, ward, api_for):
    _sent_reminder(ward, clock)
    response = api_for("infirmier").post("/api/v1/reminders/callback",
                                         json={"provider_id": "prov-42", "status": "DELIVRD"})
    assert response.status_code == 403


def test_bodies_that_are_not_json_or_not_the_right_fields_get_415_400_422(app, clock, ward, api_for):
    api = api_for("infirmier")
    path = f"/api/v1/work-items/{ward.work_item_id}/complete"
    as_form = api.client.post(path, data={"data": "x"}, headers={"Authorization": f"Bearer {api.token}"})
    assert as_form.status_code == 415
    broken = api.client.post(path, data="{not json", content_type="application/json",
                             headers={"Authorization": f"Bearer {api.token}"})
    assert broken.status_code == 400
    unknown = api.post(path, json={"data": {}, "extra": 1})
    assert unknown.status_code == 422 and problem(unknown)["errors"] == {"extra": ["Unknown field."]}
    missing = api.post(path, json={})
    assert "data" in problem(missing)["errors"]
    assert api.get("/api/v1/work-items/99999999999").status_code == 404
    assert db.session.get(WorkItem, ward.work_item_id).status == "open"
