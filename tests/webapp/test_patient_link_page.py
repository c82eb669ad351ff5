"""The patient's one-time link page: the questions only, without an account; works once, then refuses plainly."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from engine.db import db
from engine.models import AuditEvent, WorkItem
from engine.services.instances import enrol_patient
from engine.services.patient_links import issue_patient_link
from engine.types import Actor
from tests.factories import deploy_test_bpmn, make_team
from tests.webapp.conftest import WebUser, csrf_token
from tests.webapp.html_form import field_errors, read_form

LIFETIME = timedelta(hours=48)
PATIENT_DATA = ("Martin", "Jeanne", "P-001", "Mesure répétée", "boucle_simple", "Saisir la mesure du jour")


def _link(clock) -> tuple[str, WorkItem]:
    """A patient-lane work item (a daily measurement) and a fresh one-time link to it."""
    deploy_test_bpmn("boucle_simple", clock)
    patient, _ = make_team(clock, ["infirmier"])
    enrol_patient(patient.id, "boucle_simple", actor=Actor.cli(), clock=clock)
    item = db.session.scalar(select(WorkItem).where(WorkItem.role_code == "patient"))
    token, _link_row = issue_patient_link(item, now=clock.now(), lifetime=LIFETIME)
    db.session.commit()
    return token, item


def _status(item: WorkItem) -> str:
    db.session.expire_all()
    return db.session.get(WorkItem, item.id).status


def _no_patient_data(html: str) -> None:
    for text in PATIENT_DATA:
        assert text not in html, text


def _refusals() -> int:
    return db.session.scalar(select(func.count()).where(AuditEvent.action == "patient_link.refused"))


def test_link_opens_the_questions_only_readable_on_a_phone(app, clock, web: WebUser):
    token, item = _link(clock)
    response = web.client.get(f"/p/{token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="viewport"' in html and "css/patient_link.css" in html and "css/parcours.css" not in html
    assert "Valeur" in html and "Arrêter le suivi" in html
    assert read_form(html)["valeur"] == "1"  # the form's default
    _no_patient_data(html)
    assert response.headers["Cache-Control"] == "no-store"


def test_link_works_once_then_refuses_without_showing_anything(app, clock, web: WebUser):
    token, item = _link(clock)
    form = read_form(web.client.get(f"/p/{token}").get_data(as_text=True))
    form["valeur"] = "72"
    sent = web.client.post(f"/p/{token}", data=form)
    assert sent.status_code == 302 and sent.headers["Location"] == "/p/merci"
    assert "Vos réponses ont bien été transmises" in web.client.get("/p/merci").get_data(as_text=True)
    assert _status(item) == "completed"
    assert db.session.get(WorkItem, item.id).data == {"valeur": 72, "arret": False}
    for again in (web.client.get(f"/p/{token}"), web.client.post(f"/p/{token}", data=form)):
        assert again.status_code == 410
        html = again.get_data(as_text=True)
        assert "Ce lien a déjà été utilisé" in html and 'name="valeur"' not in html
        _no_patient_data(html)
    assert _refusals() == 2  # each refused use is audited (and kept, though the answer is an error)
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "work_item.completed")) == 1


def test_expired_link_is_refused_plainly(app, clock, web: WebUser):
    token, item = _link(clock)
    clock.set(clock.now() + LIFETIME)
    response = web.client.get(f"/p/{token}")
    assert response.status_code == 410
    html = response.get_data(as_text=True)
    assert "Ce lien a expiré" in html and 'name="valeur"' not in html
    _no_patient_data(html)
    assert _refusals() == 1 and _status(item) == "open"


def test_wrong_token_is_not_found_and_says_so_in_french(app, clock, web: WebUser):
    token, item = _link(clock)
    response = web.client.get(f"/p/{token[:-3]}abc")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Ce lien n&#39;est pas valide" in html or "Ce lien n'est pas valide" in html
    _no_patient_data(html)
    assert web.client.get(f"/p/{token}").status_code == 200  # the real link still works


def test_invalid_answer_is_shown_next_to_the_question_and_the_link_is_not_spent(app, clock, web: WebUser):
    token, item = _link(clock)
    form = read_form(web.client.get(f"/p/{token}").get_data(as_text=True))
    form.update({"valeur": "beaucoup", "arret": "true"})
    typo = web.client.post(f"/p/{token}", data=form)
    assert typo.status_code == 422
    assert field_errors(typo.get_data(as_text=True)) == {"valeur": "Saisissez un nombre entier."}
    kept = read_form(typo.get_data(as_text=True))
    assert kept["valeur"] == "beaucoup" and kept["arret"] == "true"
    form["valeur"] = "100001"
    too_big = web.client.post(f"/p/{token}", data=form)
    assert too_big.status_code == 422
    assert field_errors(too_big.get_data(as_text=True)) == {
        "valeur": "La valeur doit être comprise entre 0 et 100000."}
    assert _status(item) == "open"
    form["valeur"] = "80"
    assert web.client.post(f"/p/{token}", data=form).status_code == 302


def test_submission_without_the_form_token_is_refused_and_spends_nothing(app, clock, web: WebUser):
    token, item = _link(clock)
    page = web.client.get(f"/p/{token}")
    assert csrf_token(page)
    response = web.client.post(f"/p/{token}", data={"valeur": "72"})
    assert response.status_code == 400
    assert _status(item) == "open"
