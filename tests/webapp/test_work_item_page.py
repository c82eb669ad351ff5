"""The work-item page: read it, claim / unclaim / hand back / comment, complete through its JSON Schema form."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from engine.db import db
from engine.models import AuditEvent, PathwayInstance, WorkItem, WorkItemKind
from engine.services.inbox import list_inbox
from engine.services.instances import enrol_patient
from engine.services.pathways import deploy_pathway, read_pathway_source
from engine.services.people import add_care_team_member, create_professional
from engine.types import Actor
from tests.conftest import REPO
from tests.factories import actor, make_team
from tests.pathways.test_rrac_epaule import _enrol as rrac_enrol
from tests.pathways.test_rrac_epaule import _to_j1_call as rrac_to_j1_call
from tests.webapp.conftest import WebUser
from tests.webapp.html_form import field_errors, read_form

CALL = REPO / "tests" / "webapp" / "data" / "appel_j1_web.bpmn"
SHIPPED_FORMS = REPO / "workflows" / "forms"
ROLES = ["infirmier", "chirurgien", "coordinateur"]
CALM = {"patient_joint": "oui", "douleur_nrs": "3", "antalgiques_pris": "true"}


def _j1_call(clock):
    """The RRAC J+1 nurse call, open in the nurse's inbox (pathway deployed with the shipped forms)."""
    deploy_pathway(read_pathway_source(CALL, SHIPPED_FORMS), actor=Actor.cli(), clock=clock)
    patient, team = make_team(clock, ROLES)
    enrol_patient(patient.id, "appel_j1_web", actor=Actor.cli(), clock=clock)
    db.session.commit()
    item = db.session.scalar(select(WorkItem).where(WorkItem.element_id == "Task_AppelJ1"))
    return patient, team, item


def _page(item: WorkItem) -> str:
    return f"/inbox/items/{item.id}"


def _lock_version(item: WorkItem) -> int:
    db.session.expire_all()
    return db.session.get(PathwayInstance, item.instance_id).lock_version


def _reload(item: WorkItem) -> WorkItem:
    db.session.expire_all()
    return db.session.get(WorkItem, item.id)


def test_nurse_sees_the_call_with_patient_pathway_and_form_and_the_read_is_audited(app, clock, browser_for):
    patient, team, item = _j1_call(clock)
    nurse = browser_for("infirmier")
    response = nurse.client.get(_page(item))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Appeler le patient à J+1" in html and "Appel J+1 (RRAC)" in html and "Infirmier·ère" in html
    assert "Jeanne Martin" in html and f'href="/patients/{patient.id}"' in html
    assert "Dr infirmier" in html  # the care-team nurse it was assigned to
    assert "Douleur (EN 0-10)" in html and "Échelle numérique de la douleur" in html
    form = read_form(html, f"/inbox/items/{item.id}/complete")
    assert form["douleur_nrs"] == "2" and form["patient_joint"] == "oui" and form["antalgiques_pris"] == "true"
    assert form["lock_version"] == str(_lock_version(item))
    viewed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "work_item.viewed")).all()
    assert [(e.actor_label, e.patient_id, e.object_id) for e in viewed] == [("infirmier", patient.id, str(item.id))]


def test_nurse_claims_then_unclaims_and_the_history_shows_both(app, clock, browser_for):
    _, team, item = _j1_call(clock)
    nurse = browser_for("infirmier")
    response = nurse.post_form(_page(item), f"{_page(item)}/claim", {})
    assert response.status_code == 302 and response.headers["Location"] == _page(item)
    assert _reload(item).status == "claimed"
    html = nurse.client.get(_page(item)).get_data(as_text=True)
    assert "Vous avez pris cette tâche en charge." in html and "a pris la tâche en charge" in html
    response = nurse.post_form(_page(item), f"{_page(item)}/unclaim", {})
    assert response.status_code == 302
    assert (_reload(item).status, _reload(item).assignee_id) == ("open", None)
    html = nurse.client.get(_page(item)).get_data(as_text=True)
    assert "a remis la tâche dans la file" in html and "personne (file du rôle)" in html


def test_hand_back_needs_a_reason_shown_next_to_the_field_when_it_is_empty(app, clock, browser_for):
    _, team, item = _j1_call(clock)
    nurse = browser_for("infirmier")
    nurse.post_form(_page(item), f"{_page(item)}/claim", {})
    refused = nurse.post_form(_page(item), f"{_page(item)}/hand-back", {"reason": "   "})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="hand-back-reason-error">Indiquez pourquoi vous rendez cette tâche.' in html
    assert _reload(item).status == "claimed"  # nothing changed
    done = nurse.post_form(_page(item), f"{_page(item)}/hand-back", {"reason": "En congé demain"})
    assert done.status_code == 302
    assert (_reload(item).status, _reload(item).assignee_id) == ("open", None)
    html = nurse.client.get(_page(item)).get_data(as_text=True)
    assert "a rendu la tâche : En congé demain" in html


def test_comment_appears_in_the_history_and_an_empty_one_is_refused(app, clock, browser_for):
    _, team, item = _j1_call(clock)
    nurse = browser_for("infirmier")
    empty = nurse.post_form(_page(item), f"{_page(item)}/comment", {"body": ""})
    assert empty.status_code == 422 and "Le commentaire est vide." in empty.get_data(as_text=True)
    assert nurse.post_form(_page(item), f"{_page(item)}/comment", {"body": "Rappeler après 14 h"}).status_code == 302
    html = nurse.client.get(_page(item)).get_data(as_text=True)
    assert "Rappeler après 14 h" in html and "Commentaire ajouté." in html


def test_completing_with_pain_8_opens_the_urgent_surgeon_item_in_his_inbox(app, clock, browser_for):
    _, team, item = _j1_call(clock)
    nurse = browser_for("infirmier")
    form = read_form(nurse.client.get(_page(item)).get_data(as_text=True), f"{_page(item)}/complete")
    form["douleur_nrs"] = "8"
    response = nurse.client.post(f"{_page(item)}/complete", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/inbox/"
    inbox = nurse.client.get("/inbox/").get_data(as_text=True)
    assert "Tâche terminée. À faire ensuite : Évaluation chirurgicale urgente (Chirurgien)." in inbox
    done = _reload(item)
    assert done.status == "completed" and done.data["douleur_nrs"] == 8 and done.data["fievre"] is False
    answers = nurse.client.get(_page(item)).get_data(as_text=True)
    assert "Réponses enregistrées" in answers and "<dt>Douleur (EN 0-10)</dt><dd>8</dd>" in answers
    assert "<dt>Fièvre</dt><dd>non</dd>" in answers and "Valider et terminer" not in answers
    urgent, = list_inbox(actor(team["chirurgien"]), clock=clock)
    assert (urgent.element_id, urgent.priority) == ("Task_EvaluationUrgente", "urgent")
    surgeon = browser_for("chirurgien")
    page = surgeon.client.get(_page(urgent))
    assert page.status_code == 200
    assert "Évaluation chirurgicale urgente" in page.get_data(as_text=True) and "urgente" in page.get_data(as_text=True)


def test_pain_11_is_refused_next_to_the_field_and_what_was_typed_is_kept(app, clock, browser_for):
    _, team, item = _j1_call(clock)
    before = _lock_version(item)
    nurse = browser_for("infirmier")
    form = read_form(nurse.client.get(_page(item)).get_data(as_text=True), f"{_page(item)}/complete")
    form.update({"douleur_nrs": "11", "fievre": "true"})
    form.pop("antalgiques_pris")
    response = nurse.client.post(f"{_page(item)}/complete", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html) == {"douleur_nrs": "La valeur doit être comprise entre 0 et 10."}
    kept = read_form(html, f"{_page(item)}/complete")
    assert kept["douleur_nrs"] == "11" and kept["fievre"] == "true" and "antalgiques_pris" not in kept
    assert _reload(item).status == "open" and _lock_version(item) == before  # nothing written
    form["douleur_nrs"] = "huit"
    typo = nurse.client.post(f"{_page(item)}/complete", data=form)
    assert typo.status_code == 422 and field_errors(typo.get_data(as_text=True)) == {
        "douleur_nrs": "Saisissez un nombre entier."}


def _second_nurse(clock, patient) -> None:
    pro = create_professional("infirmier-b", "Dr Bernard", ["infirmier"], at=clock.now(), site="MSP Test",
                              password="demo")
    add_care_team_member(patient, pro, "infirmier", start=clock.now())
    db.session.commit()


def test_stale_form_says_it_was_completed_meanwhile_and_keeps_what_was_typed(app, clock, browser_for):
    patient, team, item = _j1_call(clock)
    _second_nurse(clock, patient)
    a, b = browser_for("infirmier"), browser_for("infirmier-b")
    form_a = read_form(a.client.get(_page(item)).get_data(as_text=True), f"{_page(item)}/complete")
    form_b = read_form(b.client.get(_page(item)).get_data(as_text=True), f"{_page(item)}/complete")
    before = _lock_version(item)
    form_b["douleur_nrs"] = "3"
    assert b.client.post(f"{_page(item)}/complete", data=form_b).status_code == 302
    form_a.update({"douleur_nrs": "6", "nausees_vomissements": "true"})
    response = a.client.post(f"{_page(item)}/complete", data=form_a)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Cette tâche a été terminée entre-temps par Dr Bernard" in html
    kept = read_form(html, f"{_page(item)}/complete")
    assert kept["douleur_nrs"] == "6" and kept["nausees_vomissements"] == "true"
    assert "Valider et terminer" not in html  # nothing left to submit
    assert _lock_version(item) == before + 1  # the instance advanced once
    assert _reload(item).data["douleur_nrs"] == 3
    form_a["douleur_nrs"] = "six"  # a typo in a stale form: the stale notice comes first
    typo = a.client.post(f"{_page(item)}/complete", data=form_a)
    assert typo.status_code == 409 and read_form(typo.get_data(as_text=True))["douleur_nrs"] == "six"
    completed = db.session.scalar(select(func.count()).where(AuditEvent.action == "work_item.completed"))
    assert completed == 1


def test_form_opened_before_the_pathway_moved_on_is_refused_and_can_be_sent_again(app, clock, browser_for):
    """The form carries the instance version it was opened at; an older one (the pathway moved on since,
    e.g. another work item of the patient was completed) is a conflict, reported with what was typed."""
    _, team, item = _j1_call(clock)
    nurse = browser_for("infirmier")
    form = read_form(nurse.client.get(_page(item)).get_data(as_text=True), f"{_page(item)}/complete")
    form.update({"douleur_nrs": "5", "lock_version": str(int(form["lock_version"]) - 1)})
    response = nurse.client.post(f"{_page(item)}/complete", data=form)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Le parcours de ce patient a changé depuis l&#39;ouverture du formulaire" in html
    again = read_form(html, f"{_page(item)}/complete")
    assert again["douleur_nrs"] == "5" and again["lock_version"] == str(_lock_version(item))
    assert _reload(item).status == "open"
    assert nurse.client.post(f"{_page(item)}/complete", data=again).status_code == 302
    assert _reload(item).data["douleur_nrs"] == 5


def _outsider(clock) -> None:
    create_professional("dehors", "Dr Dehors", ["infirmier", "chirurgien"], at=clock.now(), site="Autre site",
                        password="demo")
    db.session.commit()


def test_professional_outside_the_care_team_gets_404_everywhere_and_each_attempt_is_audited(
        app, clock, browser_for: Callable[[str], WebUser]):
    patient, team, item = _j1_call(clock)
    _outsider(clock)
    outsider = browser_for("dehors")
    page = outsider.client.get(_page(item))
    assert page.status_code == 404
    assert "Jeanne" not in page.get_data(as_text=True) and "Appeler" not in page.get_data(as_text=True)
    for action, data in [("claim", {}), ("unclaim", {}), ("hand-back", {"reason": "x"}), ("comment", {"body": "x"}),
                         ("complete", {**CALM, "lock_version": "1"})]:
        response = outsider.post_form("/inbox/", f"{_page(item)}/{action}", data)
        assert response.status_code == 404, action
        assert "Jeanne" not in response.get_data(as_text=True)
    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    assert len(denied) == 6
    assert {(e.actor_label, e.patient_id) for e in denied} == {("dehors", patient.id)}
    assert {e.action for e in denied} >= {"work_item.viewed", "work_item.claimed", "work_item.commented",
                                         "work_item.completed"}
    assert _reload(item).status == "open" and _reload(item).data is None


def test_surgeon_without_the_nurse_role_gets_403_with_the_reason(app, clock, browser_for):
    _, team, item = _j1_call(clock)
    surgeon = browser_for("chirurgien")
    page = surgeon.client.get(_page(item))
    assert page.status_code == 200 and "Valider et terminer" not in page.get_data(as_text=True)
    claim = surgeon.post_form(_page(item), f"{_page(item)}/claim", {})
    assert claim.status_code == 403 and "does not hold the role &#39;infirmier&#39;" in claim.get_data(as_text=True)
    complete = surgeon.post_form(_page(item), f"{_page(item)}/complete", {**CALM, "lock_version": "1"})
    assert complete.status_code == 403 and "infirmier" in complete.get_data(as_text=True)
    assert _reload(item).status == "open"


def test_coordinator_closes_an_escalation_with_a_note(app, clock, browser_for):
    patient, team, item = _j1_call(clock)
    escalation = WorkItem(instance_id=item.instance_id, patient_id=patient.id, spiff_task_id="escalation-1",
                          element_id=item.element_id, title="Tâche en retard : appel J+1", role_code="coordinateur",
                          assignee_id=team["coordinateur"].id, kind=WorkItemKind.ESCALATION.value,
                          escalation_key="test:escalation:1", created_at=clock.now())
    db.session.add(escalation)
    db.session.commit()
    coordinator = browser_for("coordinateur")
    html = coordinator.client.get(_page(escalation)).get_data(as_text=True)
    assert "Clore l'alerte" in html and 'name="note"' in html
    response = coordinator.post_form(_page(escalation), f"{_page(escalation)}/complete",
                                     {"note": "Infirmière jointe, appel fait à 15 h"})
    assert response.status_code == 302
    closed = _reload(escalation)
    assert closed.status == "completed" and closed.data == {"note": "Infirmière jointe, appel fait à 15 h"}
    assert _reload(item).status == "open"  # the late item itself stays to do


def test_nurse_completes_the_shipped_rrac_j1_call_with_pain_8_and_the_surgeon_sees_the_urgent_item(
        app, clock, browser_for):
    """The shipped shoulder-RRAC pathway, walked to J+1 on the injected clock, then completed in the browser."""
    w = rrac_enrol(clock)
    rrac_to_j1_call(w)
    for role in ("infirmier", "chirurgien"):
        w.team[role].password_hash = generate_password_hash("demo")
    db.session.commit()
    call = w.item("infirmier", "Task_AppelJ1")
    nurse = browser_for("infirmier")
    form = read_form(nurse.client.get(_page(call)).get_data(as_text=True), f"{_page(call)}/complete")
    form["douleur_nrs"] = "8"
    response = nurse.client.post(f"{_page(call)}/complete", data=form)
    assert response.status_code == 302
    assert "À faire ensuite : Évaluer en urgence le patient" in nurse.client.get("/inbox/").get_data(as_text=True)
    urgent = w.item("chirurgien", "Task_AvisChirurgienUrgent")
    assert urgent.priority == "urgent"
    page = browser_for("chirurgien").client.get(_page(urgent))
    assert page.status_code == 200 and "urgente" in page.get_data(as_text=True)
