"""The drafts pages: list, create (starter / copy / upload), the modeler page, save (409 when stale), validate,
form preview, download, deploy confirmation and deploy (422 when refused), delete; 403 for non care managers."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.models import AuditEvent, PathwayDraft, PathwayVersion
from engine.services.instances import enrol_patient
from engine.services.people import create_patient
from engine.types import Actor
from tests.webapp.studio.conftest import RRAC

J1_V1 = "days=1 + nuits_hospitalisation"
J1_V2 = "days=2 + nuits_hospitalisation"
OUTSIDE_LANE = ("<bpmn:flowNodeRef>Task_AppelJ1</bpmn:flowNodeRef>", "")


def _copy_v1(manager, version_id: int) -> int:
    response = manager.post_form("/studio/drafts/", f"/studio/drafts/from-version/{version_id}", {})
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/studio/drafts/(\d+)/$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _json_post(user, draft_id: int, path: str, body: dict):
    token = user.token_of(f"/studio/drafts/{draft_id}/deploy")
    return user.client.post(path, data=json.dumps(body), content_type="application/json",
                            headers={"X-CSRFToken": token, "Accept": "application/json"})


def _page_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="modeler-data">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def test_care_manager_copies_a_version_edits_saves_validates_and_deploys_version_2(app, clock, people, rrac_v1,
                                                                                    browser_for):
    patient = create_patient("P-1", "Martin", "Jeanne", at=clock.now(), site="MSP Test")
    enrol_patient(patient.id, "rrac_epaule", context={"date_chirurgie": "2026-11-30"}, actor=Actor.cli(), clock=clock)
    db.session.commit()
    manager = browser_for("coordinateur")
    draft_id = _copy_v1(manager, rrac_v1)

    page = manager.client.get(f"/studio/drafts/{draft_id}/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "bpmn-modeler.production.min.js" in html
    data = _page_data(html)
    assert data["revision"] == 1 and J1_V1 in data["xml"] and "rrac_appel_j1" in data["forms"]
    assert ["infirmier", "Infirmier·ère"] in data["roles"] and "rappel_rdv_j7" in data["templates"]

    xml = data["xml"].replace(J1_V1, J1_V2)
    saved = _json_post(manager, draft_id, data["urls"]["save"], {"xml": xml, "forms": data["forms"], "revision": 1})
    assert saved.status_code == 200 and saved.get_json() == {"revision": 2, "key": "rrac_epaule",
                                                             "title": "RAAC après chirurgie de l'épaule"}
    stale = _json_post(manager, draft_id, data["urls"]["save"], {"xml": xml, "forms": {}, "revision": 1})
    assert stale.status_code == 409 and "revision 2, yours is 1" in stale.get_json()["detail"]

    checked = _json_post(manager, draft_id, data["urls"]["validate"], {"xml": xml, "forms": data["forms"]})
    assert checked.status_code == 200 and checked.get_json() == {"problems": []}

    confirm = manager.client.get(f"/studio/drafts/{draft_id}/deploy").get_data(as_text=True)
    assert "deviendra la version 2 du parcours rrac_epaule" in confirm
    staying = r'data-version="1">\s*1 instance en cours \(patients de votre site\) reste sur la version 1'
    assert re.search(staying, confirm)
    deployed = manager.client.post(f"/studio/drafts/{draft_id}/deploy",
                                   data={"revision": "2", "csrf_token": csrf_token_of(confirm)})
    assert deployed.status_code == 302
    v2 = db.session.scalar(select(PathwayVersion).where(PathwayVersion.key == "rrac_epaule",
                                                        PathwayVersion.version == 2))
    assert v2 is not None and J1_V2 in v2.bpmn_xml
    listing = manager.client.get("/studio/drafts/").get_data(as_text=True)
    assert "Version 2 de « rrac_epaule » déployée." in listing and "déployé (version 2)" in listing
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "pathway_draft")
                                      .order_by(AuditEvent.id)))
    assert actions == ["draft.created", "draft.saved", "draft.deployed"]


def csrf_token_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_validate_returns_element_located_problems_and_deploy_is_refused_keeping_nothing(app, people, rrac_v1,
                                                                                          browser_for):
    manager = browser_for("coordinateur")
    draft_id = _copy_v1(manager, rrac_v1)
    data = _page_data(manager.client.get(f"/studio/drafts/{draft_id}/").get_data(as_text=True))
    bad = data["xml"].replace(*OUTSIDE_LANE)
    checked = _json_post(manager, draft_id, data["urls"]["validate"], {"xml": bad, "forms": data["forms"]})
    problems = checked.get_json()["problems"]
    assert [p["element_id"] for p in problems] == ["Task_AppelJ1"] and "outside any lane" in problems[0]["reason"]
    assert _json_post(manager, draft_id, data["urls"]["save"],
                      {"xml": bad, "forms": data["forms"], "revision": 1}).status_code == 200
    confirm = manager.client.get(f"/studio/drafts/{draft_id}/deploy").get_data(as_text=True)
    assert 'data-element-id="Task_AppelJ1"' in confirm
    refused = manager.client.post(f"/studio/drafts/{draft_id}/deploy",
                                  data={"revision": "2", "csrf_token": csrf_token_of(confirm)})
    assert refused.status_code == 422
    assert "Déploiement refusé" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(PathwayVersion.id))) == 1
    assert db.session.get(PathwayDraft, draft_id).status == "draft"


def test_new_draft_from_starter_template_and_download(app, people, browser_for):
    manager = browser_for("coordinateur")
    page = manager.client.get("/studio/drafts/")
    assert page.status_code == 200 and 'value="suivi_minimal"' in page.get_data(as_text=True)
    created = manager.post_form("/studio/drafts/", "/studio/drafts/new",
                                {"template": "suivi_minimal", "key": "suivi_plaie", "title": "Suivi de plaie"})
    assert created.status_code == 302
    draft = db.session.scalar(select(PathwayDraft))
    download = manager.client.get(f"/studio/drafts/{draft.id}.bpmn")
    assert download.status_code == 200 and download.headers["Content-Disposition"] == \
        'attachment; filename="suivi_plaie.bpmn"'
    assert b'<bpmn:process id="suivi_plaie" name="Suivi de plaie"' in download.data
    refused = manager.post_form("/studio/drafts/", "/studio/drafts/new", {"template": "suivi_minimal",
                                                                          "key": "Pas bon", "title": "x"})
    assert refused.status_code == 422 and "is not allowed" in refused.get_data(as_text=True)


@pytest.mark.parametrize("name, data, reason", [
    ("lol.bpmn", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]><x>&a;</x>', "DOCTYPE declarations"),
    ("notes.txt", b"pas du XML", "malformed XML"),
    ("other.xml", b"<html/>", "not a BPMN 2.0 or DMN file"),
])
def test_upload_refuses_hostile_or_non_bpmn_files_with_a_reason_and_stores_nothing(app, people, browser_for, name,
                                                                                    data, reason):
    manager = browser_for("coordinateur")
    response = manager.client.post("/studio/drafts/new", data={
        "csrf_token": manager.token_of("/studio/drafts/"), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Fichier refusé, rien n&#39;a été enregistré" in html and reason in html
    assert db.session.scalar(select(func.count(PathwayDraft.id))) == 0


def test_upload_of_a_bpmn_creates_a_draft(app, people, rrac_v1, browser_for):
    manager = browser_for("coordinateur")
    response = manager.client.post("/studio/drafts/new", data={
        "csrf_token": manager.token_of("/studio/drafts/"), "file": (io.BytesIO(RRAC.read_bytes()), "rrac_epaule.bpmn")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    draft = db.session.scalar(select(PathwayDraft))
    assert (draft.key, draft.base_version_id) == ("rrac_epaule", rrac_v1)


def test_form_preview_renders_the_form_or_says_what_is_wrong(app, people, rrac_v1, browser_for):
    manager = browser_for("coordinateur")
    draft_id = _copy_v1(manager, rrac_v1)
    schema = json.dumps({"type": "object", "title": "Appel", "properties": {
        "douleur_nrs": {"type": "integer", "title": "Douleur (0-10)", "minimum": 0, "maximum": 10}}})
    ok = _json_post(manager, draft_id, "/studio/drafts/form-preview", {"schema": schema})
    html = ok.get_data(as_text=True)
    assert ok.status_code == 200 and 'name="douleur_nrs"' in html and "Douleur (0-10)" in html
    broken = _json_post(manager, draft_id, "/studio/drafts/form-preview", {"schema": '{"type": "object", '})
    assert broken.status_code == 422 and "JSON invalide (ligne 1" in broken.get_json()["detail"]
    not_schema = _json_post(manager, draft_id, "/studio/drafts/form-preview",
                            {"schema": '{"type": "object", "properties": {"a": {"type": "entier"}}}'})
    assert not_schema.status_code == 422 and "schéma JSON invalide" in not_schema.get_json()["detail"]


def test_delete_removes_the_draft(app, people, rrac_v1, browser_for):
    manager = browser_for("coordinateur")
    draft_id = _copy_v1(manager, rrac_v1)
    response = manager.post_form("/studio/drafts/", f"/studio/drafts/{draft_id}/delete", {})
    assert response.status_code == 302 and db.session.get(PathwayDraft, draft_id) is None


def test_every_drafts_page_is_forbidden_to_other_professionals(app, people, rrac_v1, browser_for):
    manager = browser_for("coordinateur")
    draft_id = _copy_v1(manager, rrac_v1)
    nurse = browser_for("infirmier")
    token = nurse.token_of("/account/preferences")
    for method, path in (("get", "/studio/drafts/"), ("post", "/studio/drafts/new"),
                         ("post", f"/studio/drafts/from-version/{rrac_v1}"), ("get", f"/studio/drafts/{draft_id}/"),
                         ("post", f"/studio/drafts/{draft_id}/save"), ("post", f"/studio/drafts/{draft_id}/validate"),
                         ("post", "/studio/drafts/form-preview"), ("get", f"/studio/drafts/{draft_id}.bpmn"),
                         ("get", f"/studio/drafts/{draft_id}/deploy"), ("post", f"/studio/drafts/{draft_id}/deploy"),
                         ("post", f"/studio/drafts/{draft_id}/delete"), ("get", f"/studio/drafts/{draft_id}/simulate"),
                         ("post", f"/studio/drafts/{draft_id}/simulate")):
        response = getattr(nurse.client, method)(path, data={"csrf_token": token} if method == "post" else None,
                                                 headers={"X-CSRFToken": token})
        assert response.status_code == 403, (method, path, response.status_code)
    assert db.session.scalar(select(func.count(PathwayDraft.id))) == 1


def test_a_saved_draft_is_simulated_and_shows_in_the_library_as_the_last_change(app, clock, people, rrac_v1,
                                                                               browser_for):
    manager = browser_for("coordinateur")
    clock.advance(timedelta(hours=2))  # the draft is copied and saved after version 1 was deployed
    draft_id = _copy_v1(manager, rrac_v1)
    data = _page_data(manager.client.get(f"/studio/drafts/{draft_id}/").get_data(as_text=True))
    saved = _json_post(manager, draft_id, data["urls"]["save"],
                       {"xml": data["xml"].replace(J1_V1, J1_V2), "forms": data["forms"], "revision": 1})
    assert saved.status_code == 200
    assert f'href="/studio/drafts/{draft_id}/simulate"' in manager.client.get(f"/studio/drafts/{draft_id}/").get_data(
        as_text=True)

    simulate = f"/studio/drafts/{draft_id}/simulate"
    page = manager.client.get(simulate)
    assert page.status_code == 200 and "Simulation du brouillon" in page.get_data(as_text=True)
    result = manager.post_form(simulate, simulate, {"start": "2026-11-16", "months": "2",
                                                    "anchor:date_chirurgie": "2026-12-16"})
    html = result.get_data(as_text=True)
    assert result.status_code == 200, html
    call = re.search(r'<tr class="sim-ouverture" [^>]*data-element-id="Task_AppelJ1">.*?</tr>', html, re.S).group(0)
    assert "J+2" in re.sub(r"<[^>]+>", " ", call)  # the saved draft's timer, not version 1's
    assert db.session.scalar(select(func.count(PathwayVersion.id))) == 1  # simulating deploys nothing

    library = manager.client.get("/studio/").get_data(as_text=True)
    assert "brouillon modifié par coordinateur" in library  # the login, as for deploys
