"""The patient's timeline: what happened and what is planned, in order, with who did what and J+N days."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from engine.db import db
from engine.models import Reminder, WorkItem
from engine.services.inbox import claim_work_item, comment_work_item, complete_work_item
from engine.services.timers import fire_due_timers
from tests.conftest import PARIS
from tests.factories import actor
from tests.webapp.records import audit_actions, enrol_appel_douleur, team_and_outsider

ENTRY = re.compile(r'<li class="tl-entry [^"]*" data-kind="([a-z_]+)" data-event="([a-z_]+)"')


def _j1_call_done_with_pain(clock, patient, team, pain: int = 8) -> int:
    """Surgery on 16 November; the J+1 call (17 Nov 10:00) claimed, commented and completed with ``pain``."""
    instance_id = enrol_appel_douleur(patient, clock)
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=PARIS))
    fire_due_timers(clock=clock)
    db.session.commit()
    call = db.session.scalar(select(WorkItem).where(WorkItem.element_id == "appel_j1"))
    nurse = actor(team["infirmier"])
    clock.advance(timedelta(minutes=5))
    claim_work_item(call.id, actor=nurse, clock=clock)
    comment_work_item(call.id, "Patiente jointe au 2e appel", actor=nurse, clock=clock)
    clock.advance(timedelta(minutes=10))
    complete_work_item(call.id, {"douleur_nrs": pain}, actor=nurse, clock=clock)
    db.session.commit()
    return instance_id


def _sections(html: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    past, _, planned = html.partition("Ce qui est prévu")
    return ENTRY.findall(past.split('id="timeline"', 1)[1]), ENTRY.findall(planned)


def test_timeline_lists_what_happened_in_order_then_what_is_planned_after_the_j1_call(app, clock, browser_for):
    patient, team, _outsider = team_and_outsider(clock)
    _j1_call_done_with_pain(clock, patient, team)
    response = browser_for("chirurgien").client.get(f"/patients/{patient.id}/timeline")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    past, planned = _sections(html)
    assert past == [("instance", "enrolled"), ("timer", "fired"), ("work_item", "opened"), ("comment", "claim"),
                    ("comment", "comment"), ("work_item", "completed"), ("work_item", "opened")]
    assert planned == [("work_item", "due")]  # the urgent surgeon opinion, due in 4 hours
    assert "Avis chirurgical urgent" in html and "Patiente jointe au 2e appel" in html
    completed = html[html.index('data-event="completed"'):]
    assert "Dr infirmier" in completed.split("</li>")[0]
    assert "<dt>douleur_nrs</dt><dd>8</dd>" in completed.split("</li>")[0]
    assert "J+1" in completed.split("</li>")[0]
    assert "patient.timeline_viewed" in audit_actions(patient.id, actor_label="chirurgien")


def test_timeline_shows_a_pending_timer_with_its_due_date_as_planned_right_after_enrolment(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    enrol_appel_douleur(patient, clock)
    html = browser_for("infirmier").client.get(f"/patients/{patient.id}/timeline").get_data(as_text=True)
    past, planned = _sections(html)
    assert past == [("instance", "enrolled")]
    assert planned == [("timer", "pending")]
    pending = html[html.index('data-event="pending"'):].split("</li>")[0]
    assert "J+1" in pending and "J+1 10h" in pending


def test_reminders_show_their_delivery_status_but_never_the_message_text(app, clock, browser_for):
    patient, team, _outsider = team_and_outsider(clock)
    instance_id = _j1_call_done_with_pain(clock, patient, team, pain=2)  # no urgent opinion: on to the J+35 SMS
    clock.set(datetime(2026, 12, 21, 9, 0, tzinfo=PARIS))
    fire_due_timers(clock=clock)
    db.session.commit()
    reminder = db.session.scalar(select(Reminder).where(Reminder.instance_id == instance_id))
    assert reminder is not None and reminder.template == "rappel_rdv_j7"
    html = browser_for("infirmier").client.get(f"/patients/{patient.id}/timeline").get_data(as_text=True)
    assert 'data-kind="reminder" data-event="planned"' in html
    # delivered by the provider (the dispatcher's own tests cover sending; here only what the record shows)
    reminder.status, reminder.rendered_text = "delivered", "Bonjour Jeanne, texte confidentiel"
    reminder.sent_at, reminder.delivered_at = clock.now(), clock.now() + timedelta(minutes=1)
    db.session.commit()
    html = browser_for("infirmier").client.get(f"/patients/{patient.id}/timeline").get_data(as_text=True)
    assert 'data-kind="reminder" data-event="sent"' in html and 'data-kind="reminder" data-event="delivered"' in html
    assert "texte confidentiel" not in html


def test_instance_page_shows_only_that_instance_timeline(app, clock, browser_for):
    patient, team, _outsider = team_and_outsider(clock)
    instance_id = _j1_call_done_with_pain(clock, patient, team)
    response = browser_for("infirmier").client.get(f"/patients/{patient.id}/instances/{instance_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="diagram"' in html and f"/instances/{instance_id}/diagram.json" in html
    assert ("work_item", "completed") in _sections(html)[0]
    assert browser_for("infirmier").client.get(f"/patients/{patient.id}/instances/{instance_id + 99}"
                                               ).status_code == 404


def test_a_message_received_appears_with_the_work_it_opened(app, clock, browser_for):
    from engine.services.instances import enrol_patient
    from engine.services.messages import deliver_message
    from engine.types import Actor
    from tests.factories import deploy_test_bpmn

    patient, _team, _outsider = team_and_outsider(clock)
    deploy_test_bpmn("message_result", clock)
    enrol_patient(patient.id, "message_result", actor=Actor.cli(), clock=clock)
    db.session.commit()
    clock.advance(timedelta(hours=2))
    deliver_message(patient.id, "resultat_inr", {"inr": 2.5}, actor=Actor.system("laboratoire"), clock=clock)
    db.session.commit()
    html = browser_for("infirmier").client.get(f"/patients/{patient.id}/timeline").get_data(as_text=True)
    past, _planned = _sections(html)
    assert past[0] == ("instance", "enrolled")
    assert ("message", "caught") in past and ("message", "delivered") in past
    assert past.index(("message", "caught")) < past.index(("work_item", "opened"))
    assert "laboratoire" in html
