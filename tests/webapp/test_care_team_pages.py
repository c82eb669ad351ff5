"""Care team from the record: add a professional for a role and period, end or remove a membership."""

from __future__ import annotations

from sqlalchemy import select

from engine.db import db
from engine.models import CareTeamMember, WorkItem
from engine.services.people import create_professional
from tests.webapp.records import audit_actions, enrol_appel_douleur, team_and_outsider


def _kine(clock):
    pro = create_professional("kine", "Mme Kiné", ["kinesitherapeute"], at=clock.now(), site="MSP Test",
                              password="demo")
    db.session.commit()
    return pro


def _add(web, patient, **data):
    return web.post_form(f"/patients/{patient.id}", f"/patients/{patient.id}/care-team", data)


def test_nurse_adds_a_physiotherapist_who_then_sees_the_patient(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    kine = _kine(clock)
    kine_browser = browser_for("kine")
    assert kine_browser.client.get(f"/patients/{patient.id}").status_code == 404
    response = _add(browser_for("infirmier"), patient, professional_id=str(kine.id), role="kinesitherapeute",
                    start="2026-11-16")
    assert response.status_code == 302
    member = db.session.scalar(select(CareTeamMember).where(CareTeamMember.professional_id == kine.id))
    assert member.role_code == "kinesitherapeute" and member.period_end is None
    html = kine_browser.client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert 'data-login="kine" class="member-active"' in html
    assert "care_team.member_added" in audit_actions(patient.id, actor_label="infirmier")


def test_adding_is_refused_next_to_the_field_when_the_professional_does_not_hold_the_role(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    kine = _kine(clock)
    response = _add(browser_for("infirmier"), patient, professional_id=str(kine.id), role="chirurgien",
                    start="2026-11-16")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="err-role"' in html and "n&#39;a pas ce rôle" in html
    assert db.session.scalar(select(CareTeamMember).where(CareTeamMember.professional_id == kine.id)) is None


def test_adding_is_refused_when_the_period_is_empty_or_the_start_is_missing(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    kine = _kine(clock)
    nurse = browser_for("infirmier")
    ends_before = _add(nurse, patient, professional_id=str(kine.id), role="kinesitherapeute", start="2026-11-20",
                       end="2026-11-10")
    assert ends_before.status_code == 422 and 'id="err-end"' in ends_before.get_data(as_text=True)
    no_start = _add(nurse, patient, professional_id=str(kine.id), role="kinesitherapeute", start="")
    assert no_start.status_code == 422 and 'id="err-start"' in no_start.get_data(as_text=True)
    bad_start = _add(nurse, patient, professional_id=str(kine.id), role="kinesitherapeute", start="demain")
    assert bad_start.status_code == 422 and "Date invalide" in bad_start.get_data(as_text=True)
    nobody = _add(nurse, patient, professional_id="", role="kinesitherapeute", start="2026-11-16")
    assert nobody.status_code == 422 and 'id="err-professional"' in nobody.get_data(as_text=True)
    assert db.session.scalar(select(CareTeamMember).where(CareTeamMember.professional_id == kine.id)) is None


def test_adding_the_same_active_membership_twice_is_refused(app, clock, browser_for):
    patient, team, _outsider = team_and_outsider(clock)
    response = _add(browser_for("coordinateur"), patient, professional_id=str(team["chirurgien"].id),
                    role="chirurgien", start="2026-11-20")
    assert response.status_code == 409  # a conflict with what is recorded, as the API answers it
    assert "Déjà membre" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(CareTeamMember.id)).where(
        CareTeamMember.professional_id == team["chirurgien"].id)) == 1


def test_ending_a_membership_takes_the_patient_away_and_returns_their_work_to_the_queue(app, clock, browser_for):
    patient, team, _outsider = team_and_outsider(clock)
    clock.set(clock.now().replace(day=17, hour=12))  # J+1 after a surgery on the 16th, past 10:00
    enrol_appel_douleur(patient, clock)
    item = db.session.scalar(select(WorkItem).where(WorkItem.element_id == "appel_j1"))
    assert item.assignee_id == team["infirmier"].id
    member = db.session.scalar(select(CareTeamMember).where(CareTeamMember.professional_id == team["infirmier"].id))
    coordinator = browser_for("coordinateur")
    response = coordinator.post_form(f"/patients/{patient.id}", f"/patients/{patient.id}/care-team/{member.id}/end",
                                     {})
    assert response.status_code == 302
    assert db.session.get(CareTeamMember, member.id, populate_existing=True).period_end == clock.now()
    released = db.session.get(WorkItem, item.id, populate_existing=True)
    assert (released.assignee_id, released.status) == (None, "open")
    html = coordinator.client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert 'data-login="infirmier" class="member-ended"' in html
    assert browser_for("infirmier").client.get(f"/patients/{patient.id}").status_code == 404
    assert "care_team.member_ended" in audit_actions(patient.id, actor_label="coordinateur")


def test_ending_a_membership_twice_is_a_conflict(app, clock, browser_for):
    patient, team, _outsider = team_and_outsider(clock)
    member = db.session.scalar(select(CareTeamMember).where(CareTeamMember.professional_id == team["chirurgien"].id))
    coordinator = browser_for("coordinateur")
    path = f"/patients/{patient.id}/care-team/{member.id}/end"
    assert coordinator.post_form(f"/patients/{patient.id}", path, {}).status_code == 302
    assert coordinator.post_form(f"/patients/{patient.id}", path, {}).status_code == 409


def test_a_future_membership_is_removed_before_it_begins(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    kine = _kine(clock)
    nurse = browser_for("infirmier")
    assert _add(nurse, patient, professional_id=str(kine.id), role="kinesitherapeute", start="2026-12-01",
                end="2026-12-31").status_code == 302
    member = db.session.scalar(select(CareTeamMember).where(CareTeamMember.professional_id == kine.id))
    assert 'class="member-upcoming"' in nurse.client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert nurse.post_form(f"/patients/{patient.id}", f"/patients/{patient.id}/care-team/{member.id}/end",
                           {}).status_code == 302
    removed = db.session.get(CareTeamMember, member.id, populate_existing=True)
    assert removed.period_end == removed.period_start  # an empty period: never active
    assert browser_for("kine").client.get(f"/patients/{patient.id}").status_code == 404
