"""A small pathway walked through the services: timers, work items in the right inbox, decisions, reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.db import db
from engine.errors import ConcurrencyConflict, InvalidInput, InvalidTransition, NotPermitted
from engine.models import AuditEvent, DueTimer, PathwayInstance, Reminder, WorkItem
from engine.services.inbox import claim_work_item, complete_work_item, list_inbox
from engine.services.instances import enrol_patient, suspend_instance
from engine.services.timers import fire_due_timers
from engine.types import Actor
from tests.conftest import START
from tests.factories import actor, deploy_test_bpmn, make_team


def _enrol(clock, team_roles=("infirmier", "chirurgien", "coordinateur")):
    deploy_test_bpmn("appel_douleur", clock)
    patient, team = make_team(clock, list(team_roles))
    outcome = enrol_patient(patient.identifier, "appel_douleur", context={"date_chirurgie": "2026-11-16"},
                            actor=Actor.cli(), clock=clock)
    db.session.commit()
    return patient, team, outcome


def test_j1_call_appears_in_nurse_inbox_when_timer_fires(app, clock):
    patient, team, outcome = _enrol(clock)
    assert outcome.opened_work_items == ()
    timer = db.session.scalar(select(DueTimer).where(DueTimer.instance_id == outcome.instance_id))
    assert timer.element_id == "timer_j1"
    assert timer.due_at == (START.replace(hour=0) + timedelta(days=1, hours=10))
    clock.set(timer.due_at - timedelta(minutes=1))
    assert fire_due_timers(clock=clock).fired == 0
    clock.set(timer.due_at + timedelta(seconds=1))
    assert fire_due_timers(clock=clock).fired == 1
    items = list_inbox(actor(team["infirmier"]), clock=clock)
    assert [i.element_id for i in items] == ["appel_j1"]
    assert items[0].due_at == clock.now() + timedelta(hours=8)
    assert items[0].assignee_id == team["infirmier"].id
    assert list_inbox(actor(team["chirurgien"]), clock=clock) == []
    assert fire_due_timers(clock=clock).fired == 0  # exactly once


def test_pain_eight_opens_urgent_surgeon_work_item(app, clock):
    patient, team, outcome = _enrol(clock)
    clock.set(START + timedelta(days=1, hours=3))
    fire_due_timers(clock=clock)
    item = list_inbox(actor(team["infirmier"]), clock=clock)[0]
    result = complete_work_item(item.id, {"douleur_nrs": 8}, actor=actor(team["infirmier"]), clock=clock)
    db.session.commit()
    surgeon_items = list_inbox(actor(team["chirurgien"]), clock=clock)
    assert [i.element_id for i in surgeon_items] == ["avis_urgent"]
    assert surgeon_items[0].priority == "urgent"
    assert result.opened_work_items == (surgeon_items[0].id,)
    assert list_inbox(actor(team["infirmier"]), clock=clock) == []


def test_low_pain_goes_straight_to_reminder_and_completes(app, clock):
    patient, team, outcome = _enrol(clock)
    clock.set(START + timedelta(days=1, hours=3))
    fire_due_timers(clock=clock)
    item = list_inbox(actor(team["infirmier"]), clock=clock)[0]
    complete_work_item(item.id, {"douleur_nrs": 2}, actor=actor(team["infirmier"]), clock=clock)
    db.session.commit()
    assert list_inbox(actor(team["chirurgien"]), clock=clock) == []
    clock.set(START + timedelta(days=36))
    assert fire_due_timers(clock=clock).fired == 1
    reminder = db.session.scalar(select(Reminder))
    assert (reminder.recipient, reminder.channel, reminder.template) == ("patient", "sms", "rappel_rdv_j7")
    assert reminder.appointment_at == START.replace(hour=0) + timedelta(days=42, hours=14)
    instance = db.session.get(PathwayInstance, outcome.instance_id)
    assert instance.status == "completed"
    actions = [a for (a,) in db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id))]
    for expected in ("pathway.deployed", "instance.enrolled", "timer.fired", "work_item.opened",
                     "work_item.completed", "reminder.planned", "instance.completed"):
        assert expected in actions


def test_invalid_form_data_is_refused_and_nothing_changes(app, clock):
    patient, team, outcome = _enrol(clock)
    clock.set(START + timedelta(days=1, hours=3))
    fire_due_timers(clock=clock)
    item = list_inbox(actor(team["infirmier"]), clock=clock)[0]
    version_before = db.session.get(PathwayInstance, outcome.instance_id).lock_version
    with pytest.raises(InvalidInput) as err:
        complete_work_item(item.id, {"douleur_nrs": 14}, actor=actor(team["infirmier"]), clock=clock)
    assert "douleur_nrs" in err.value.errors
    db.session.rollback()
    assert db.session.get(WorkItem, item.id).status == "open"
    assert db.session.get(PathwayInstance, outcome.instance_id).lock_version == version_before


def test_professional_without_the_role_cannot_complete(app, clock):
    patient, team, outcome = _enrol(clock)
    clock.set(START + timedelta(days=1, hours=3))
    fire_due_timers(clock=clock)
    item = list_inbox(actor(team["infirmier"]), clock=clock)[0]
    with pytest.raises(NotPermitted):
        complete_work_item(item.id, {"douleur_nrs": 2}, actor=actor(team["chirurgien"]), clock=clock)
    with pytest.raises(NotPermitted):
        claim_work_item(item.id, actor=actor(team["chirurgien"]), clock=clock)


def test_second_completion_is_refused(app, clock):
    patient, team, outcome = _enrol(clock)
    clock.set(START + timedelta(days=1, hours=3))
    fire_due_timers(clock=clock)
    item = list_inbox(actor(team["infirmier"]), clock=clock)[0]
    complete_work_item(item.id, {"douleur_nrs": 2}, actor=actor(team["infirmier"]), clock=clock)
    db.session.commit()
    with pytest.raises(InvalidTransition):
        complete_work_item(item.id, {"douleur_nrs": 3}, actor=actor(team["infirmier"]), clock=clock)


def test_stale_expected_version_is_a_conflict(app, clock):
    patient, team, outcome = _enrol(clock)
    clock.set(START + timedelta(days=1, hours=3))
    fire_due_timers(clock=clock)
    item = list_inbox(actor(team["infirmier"]), clock=clock)[0]
    with pytest.raises(ConcurrencyConflict):
        complete_work_item(item.id, {"douleur_nrs": 2}, actor=actor(team["infirmier"]), clock=clock,
                           expected_lock_version=0)


def test_suspended_instance_timers_wait(app, clock):
    patient, team, outcome = _enrol(clock)
    suspend_instance(outcome.instance_id, actor=Actor.cli(), clock=clock)
    db.session.commit()
    clock.set(START + timedelta(days=2))
    assert fire_due_timers(clock=clock).fired == 0
