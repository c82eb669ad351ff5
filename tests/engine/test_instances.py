"""Pathway instances through the services: enrolment errors, suspend / resume / cancel, engine failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.errors import AccessDenied, EngineStepError, InvalidInput, InvalidTransition, NotFound
from engine.models import AuditEvent, DueTimer, PathwayInstance, Reminder, WorkItem
from engine.services.inbox import complete_work_item, list_inbox
from engine.services.instances import cancel_instance, enrol_patient, resume_instance, suspend_instance
from engine.services.people import create_professional
from engine.services.timers import fire_due_timers
from engine.types import Actor
from tests.factories import actor, deploy_test_bpmn, make_team

CLI = Actor.cli()


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _actions(instance_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == instance_id)
                                   .order_by(AuditEvent.id)))


def _event(action: str, instance_id: int) -> AuditEvent:
    (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                           AuditEvent.instance_id == instance_id))
    return event


def _setup(clock, pathway: str, roles=("infirmier", "medecin_traitant")):
    deploy_test_bpmn(pathway, clock)
    return make_team(clock, list(roles))


def _enrol(clock, pathway: str, context=None, roles=("infirmier", "medecin_traitant")):
    patient, team = _setup(clock, pathway, roles)
    outcome = enrol_patient(patient.identifier, pathway, context=context, actor=CLI, clock=clock)
    db.session.commit()
    return patient, team, db.session.get(PathwayInstance, outcome.instance_id)


def _open_items(instance_id: int) -> list[WorkItem]:
    return list(db.session.scalars(select(WorkItem).where(WorkItem.instance_id == instance_id,
                                                          WorkItem.status.in_(["open", "claimed"]))
                                   .order_by(WorkItem.id)))


# -- enrolment errors -------------------------------------------------------------------------------------------

def test_enrol_is_refused_when_pathway_is_not_deployed(app, clock):
    patient, team = make_team(clock, ["infirmier"])
    with pytest.raises(NotFound, match="no deployed pathway 'bpco_inconnu'"):
        enrol_patient(patient.identifier, "bpco_inconnu", actor=CLI, clock=clock)
    db.session.rollback()
    assert _count(PathwayInstance) == 0


def test_enrol_is_refused_with_readable_message_when_anchor_date_is_missing(app, clock):
    patient, team = _setup(clock, "appel_douleur")
    with pytest.raises(InvalidInput) as err:
        enrol_patient(patient.identifier, "appel_douleur", context={}, actor=CLI, clock=clock)
    message = str(err.value)
    assert "appel_douleur" in message and "date_chirurgie" in message
    assert '{"date_chirurgie": "2026-11-20"}' in message  # says how to give it
    db.session.rollback()
    assert _count(PathwayInstance) == 0
    assert _count(AuditEvent, AuditEvent.action == "instance.enrolled") == 0


@pytest.mark.parametrize("bad", ["20/11/2026", "2026-13-45", "demain", 20261120])
def test_enrol_is_refused_when_anchor_date_is_not_an_iso_date(app, clock, bad):
    patient, team = _setup(clock, "appel_douleur")
    with pytest.raises(InvalidInput) as err:
        enrol_patient(patient.identifier, "appel_douleur", context={"date_chirurgie": bad}, actor=CLI, clock=clock)
    assert "date_chirurgie" in str(err.value) and "ISO 8601" in str(err.value)
    db.session.rollback()
    assert _count(PathwayInstance) == 0


def test_enrol_is_refused_when_patient_is_already_on_the_pathway(app, clock):
    patient, team, first = _enrol(clock, "appel_douleur", {"date_chirurgie": "2026-11-16"})
    with pytest.raises(InvalidTransition) as err:
        enrol_patient(patient.identifier, "appel_douleur", context={"date_chirurgie": "2026-11-20"}, actor=CLI,
                      clock=clock)
    assert "already on pathway 'appel_douleur'" in str(err.value) and f"instance {first.id}" in str(err.value)
    db.session.rollback()
    assert _count(PathwayInstance) == 1
    assert _count(DueTimer) == 1


def test_enrol_is_refused_when_patient_is_on_the_pathway_but_suspended(app, clock):
    patient, team, first = _enrol(clock, "appel_douleur", {"date_chirurgie": "2026-11-16"})
    suspend_instance(first.id, actor=CLI, clock=clock)
    db.session.commit()
    with pytest.raises(InvalidTransition, match="already on pathway"):
        enrol_patient(patient.identifier, "appel_douleur", context={"date_chirurgie": "2026-11-20"}, actor=CLI,
                      clock=clock)


def test_enrol_starts_a_new_instance_when_previous_one_was_cancelled(app, clock):
    patient, team, first = _enrol(clock, "appel_douleur", {"date_chirurgie": "2026-11-16"})
    cancel_instance(first.id, actor=CLI, clock=clock, reason="date d'intervention reportée")
    db.session.commit()
    outcome = enrol_patient(patient.identifier, "appel_douleur", context={"date_chirurgie": "2026-12-01"},
                            actor=CLI, clock=clock)
    db.session.commit()
    assert outcome.instance_id != first.id and outcome.status == "active"
    assert _count(DueTimer, DueTimer.status == "pending") == 1


def test_enrol_is_answered_not_found_when_professional_is_outside_care_team(app, clock):
    patient, team = _setup(clock, "nurse_then_gp")
    outsider = create_professional("mt-exterieur", "Dr Ailleurs", ["medecin_traitant"], at=clock.now(),
                                   site="Autre MSP")
    db.session.commit()
    with pytest.raises(AccessDenied):
        enrol_patient(patient.identifier, "nurse_then_gp", actor=actor(outsider), clock=clock)
    db.session.rollback()
    assert _count(PathwayInstance) == 0


def test_enrol_stores_nothing_when_pathway_fails_at_its_first_step(app, clock):
    patient, team = _setup(clock, "failing_script")
    audits_before = _count(AuditEvent)
    with pytest.raises(EngineStepError) as err:
        enrol_patient(patient.identifier, "failing_script", context={"diviseur": 0}, actor=CLI, clock=clock)
    assert err.value.element_id == "calcul_initial"
    assert "division by zero" in str(err.value)
    db.session.commit()  # even if the caller commits, nothing was written
    assert _count(PathwayInstance) == 0
    assert _count(DueTimer) == 0
    assert _count(AuditEvent) == audits_before


def test_enrol_records_audit_and_opens_first_step_when_context_is_valid(app, clock):
    patient, team, instance = _enrol(clock, "nurse_then_gp")
    assert instance.status == "active" and instance.patient_id == patient.id
    enrolled = _event("instance.enrolled", instance.id)
    assert (enrolled.actor_kind, enrolled.patient_id, enrolled.details["key"]) == ("cli", patient.id, "nurse_then_gp")
    assert [i.element_id for i in list_inbox(actor(team["infirmier"]), clock=clock)] == ["bilan_infirmier"]


# -- suspend / resume / cancel ----------------------------------------------------------------------------------

def test_cancel_closes_open_work_items_pending_timers_and_reminders_when_instance_is_cancelled(app, clock):
    patient, team, instance = _enrol(clock, "task_timer_reminder")
    assert [i.element_id for i in _open_items(instance.id)] == ["bilan"]
    assert _count(DueTimer, DueTimer.instance_id == instance.id, DueTimer.status == "pending") == 1
    assert _count(Reminder, Reminder.instance_id == instance.id, Reminder.status == "pending") == 1
    clock.advance(timedelta(hours=2))
    cancel_instance(instance.id, actor=CLI, clock=clock, reason="Patient transféré dans une autre région")
    db.session.commit()

    instance = db.session.get(PathwayInstance, instance.id)
    assert (instance.status, instance.ended_at) == ("cancelled", clock.now())
    (item,) = db.session.scalars(select(WorkItem).where(WorkItem.instance_id == instance.id))
    assert (item.status, item.cancelled_at) == ("cancelled", clock.now())
    assert [t.status for t in db.session.scalars(select(DueTimer))] == ["cancelled"]
    assert [r.status for r in db.session.scalars(select(Reminder))] == ["cancelled"]
    assert list_inbox(actor(team["infirmier"]), clock=clock) == []
    event = _event("instance.cancelled", instance.id)
    assert (event.details, event.patient_id) == ({"reason": "Patient transféré dans une autre région"}, patient.id)

    clock.advance(timedelta(days=3))
    assert fire_due_timers(clock=clock).fired == 0
    with pytest.raises(InvalidTransition, match="cancelled"):
        complete_work_item(item.id, {}, actor=actor(team["infirmier"]), clock=clock)


def test_cancel_is_refused_when_instance_is_already_cancelled(app, clock):
    patient, team, instance = _enrol(clock, "task_timer_reminder")
    cancel_instance(instance.id, actor=CLI, clock=clock, reason="doublon")
    db.session.commit()
    with pytest.raises(InvalidTransition, match="cancelled"):
        cancel_instance(instance.id, actor=CLI, clock=clock, reason="encore")
    db.session.rollback()
    assert _actions(instance.id).count("instance.cancelled") == 1


def test_suspended_instance_timer_waits_then_fires_after_resume_when_it_fell_due_meanwhile(app, clock):
    patient, team, instance = _enrol(clock, "task_timer_reminder")
    nurse = actor(team["infirmier"])
    suspend_instance(instance.id, actor=CLI, clock=clock, reason="Hospitalisation intercurrente")
    db.session.commit()

    clock.advance(timedelta(days=3))  # the J+2 timer falls due while suspended
    assert fire_due_timers(clock=clock).fired == 0
    (timer,) = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == instance.id))
    assert (timer.status, timer.fired_at) == ("pending", None)
    assert [i.element_id for i in list_inbox(nurse, clock=clock)] == ["bilan"]  # its work items stay

    resume_instance(instance.id, actor=CLI, clock=clock)
    db.session.commit()
    assert fire_due_timers(clock=clock).fired == 1
    db.session.refresh(timer)
    assert (timer.status, timer.fired_at) == ("fired", clock.now())
    assert sorted(i.element_id for i in list_inbox(nurse, clock=clock)) == ["bilan", "controle_j2"]
    assert fire_due_timers(clock=clock).fired == 0

    actions = _actions(instance.id)
    assert actions.index("instance.suspended") < actions.index("instance.resumed") < actions.index("timer.fired")
    assert _event("instance.suspended", instance.id).details == {"reason": "Hospitalisation intercurrente"}


def test_work_item_cannot_be_completed_when_instance_is_suspended(app, clock):
    patient, team, instance = _enrol(clock, "nurse_then_gp")
    (item,) = _open_items(instance.id)
    suspend_instance(instance.id, actor=CLI, clock=clock)
    db.session.commit()
    with pytest.raises(InvalidTransition, match="suspended"):
        complete_work_item(item.id, {}, actor=actor(team["infirmier"]), clock=clock)
    db.session.rollback()
    assert db.session.get(WorkItem, item.id).status == "open"
    resume_instance(instance.id, actor=CLI, clock=clock)
    db.session.commit()
    outcome = complete_work_item(item.id, {}, actor=actor(team["infirmier"]), clock=clock)
    db.session.commit()
    assert [db.session.get(WorkItem, i).element_id for i in outcome.opened_work_items] == ["synthese_mt"]


def test_suspend_and_resume_are_refused_when_instance_is_not_in_the_right_state(app, clock):
    patient, team, instance = _enrol(clock, "nurse_then_gp")
    with pytest.raises(InvalidTransition, match="cannot resumed|active"):
        resume_instance(instance.id, actor=CLI, clock=clock)
    db.session.rollback()
    suspend_instance(instance.id, actor=CLI, clock=clock)
    db.session.commit()
    with pytest.raises(InvalidTransition, match="suspended"):
        suspend_instance(instance.id, actor=CLI, clock=clock)
    db.session.rollback()
    assert db.session.get(PathwayInstance, instance.id).status == "suspended"
    assert _actions(instance.id).count("instance.suspended") == 1


def test_suspend_is_answered_not_found_when_professional_is_outside_care_team(app, clock):
    patient, team, instance = _enrol(clock, "nurse_then_gp")
    outsider = create_professional("ide-ext", "IDE Ailleurs", ["infirmier"], at=clock.now(), site="Autre MSP")
    db.session.commit()
    with pytest.raises(AccessDenied):
        suspend_instance(instance.id, actor=actor(outsider), clock=clock)
    db.session.rollback()
    assert db.session.get(PathwayInstance, instance.id).status == "active"


def test_care_team_professional_may_suspend_and_is_named_in_audit_when_suspending(app, clock):
    patient, team, instance = _enrol(clock, "nurse_then_gp")
    gp = team["medecin_traitant"]
    suspend_instance(instance.id, actor=actor(gp), clock=clock, reason="Bilan en attente")
    db.session.commit()
    event = _event("instance.suspended", instance.id)
    assert (event.actor_kind, event.actor_id, event.patient_id) == ("professional", gp.id, patient.id)


# -- engine failures --------------------------------------------------------------------------------------------

def test_condition_branches_on_form_data_when_divisor_is_valid(app, clock):
    patient, team, instance = _enrol(clock, "failing_condition")
    (item,) = _open_items(instance.id)
    outcome = complete_work_item(item.id, {"diviseur": 5}, actor=actor(team["infirmier"]), clock=clock)
    db.session.commit()
    assert outcome.status == "active" and outcome.error_message is None
    assert [i.element_id for i in list_inbox(actor(team["medecin_traitant"]), clock=clock)] == ["avis_mt"]
    assert _count(DueTimer, DueTimer.instance_id == instance.id, DueTimer.status == "pending") == 1


def test_instance_goes_to_error_with_nothing_half_written_when_condition_divides_by_zero(app, clock):
    patient, team, instance = _enrol(clock, "failing_condition")
    (item,) = _open_items(instance.id)
    nurse = team["infirmier"]
    state_before, version_before = instance.state, instance.lock_version
    clock.advance(timedelta(minutes=20))

    outcome = complete_work_item(item.id, {"diviseur": 0}, actor=actor(nurse), clock=clock,
                                 expected_lock_version=version_before)
    db.session.commit()

    assert (outcome.status, outcome.error_element, outcome.opened_work_items) == ("error", "gw_ratio", ())
    instance = db.session.get(PathwayInstance, instance.id)
    assert (instance.status, instance.error_element) == ("error", "gw_ratio")
    assert "100 / diviseur > 10" in instance.error_message
    assert instance.updated_at == clock.now()
    # nothing of the failed step was kept: same engine state, the step still open, no timer, no next step
    assert instance.state == state_before
    # the error mark is the one write (a status change, like suspend, so the counter moves once); a form
    # opened before the failure is stale either way: the instance is in error
    assert instance.lock_version == version_before + 1
    item = db.session.get(WorkItem, item.id)
    assert (item.status, item.data, item.completed_by_id, item.completed_at) == ("open", None, None, None)
    assert _count(DueTimer, DueTimer.instance_id == instance.id) == 0
    assert [i.element_id for i in _open_items(instance.id)] == ["saisie_dose"]
    assert list_inbox(actor(team["medecin_traitant"]), clock=clock) == []
    error = _event("instance.error", instance.id)
    assert (error.outcome, error.actor_id, error.details["element_id"]) == ("error", nurse.id, "gw_ratio")
    assert "work_item.completed" not in _actions(instance.id)


def test_error_message_says_why_the_condition_failed_when_it_divides_by_zero(app, clock):
    patient, team, instance = _enrol(clock, "failing_condition")
    (item,) = _open_items(instance.id)
    outcome = complete_work_item(item.id, {"diviseur": 0}, actor=actor(team["infirmier"]), clock=clock)
    db.session.commit()
    # the care manager needs the cause, not only which expression failed
    assert "division by zero" in outcome.error_message
    assert "division by zero" in db.session.get(PathwayInstance, instance.id).error_message
    assert "division by zero" in _event("instance.error", instance.id).details["message"]


def test_instance_in_error_refuses_further_steps_until_cancelled(app, clock):
    patient, team, instance = _enrol(clock, "failing_condition")
    (item,) = _open_items(instance.id)
    nurse = actor(team["infirmier"])
    complete_work_item(item.id, {"diviseur": 0}, actor=nurse, clock=clock)
    db.session.commit()
    with pytest.raises(InvalidTransition, match="error"):
        complete_work_item(item.id, {"diviseur": 5}, actor=nurse, clock=clock)
    db.session.rollback()
    with pytest.raises(InvalidTransition):
        suspend_instance(instance.id, actor=CLI, clock=clock)
    db.session.rollback()
    cancel_instance(instance.id, actor=CLI, clock=clock, reason="erreur de saisie")
    db.session.commit()
    assert db.session.get(PathwayInstance, instance.id).status == "cancelled"
    assert db.session.get(WorkItem, item.id).status == "cancelled"
    assert list_inbox(nurse, clock=clock) == []


def _fire_failing_script_timer(clock):
    patient, team, instance = _enrol(clock, "failing_script")  # diviseur = 4: calcul_initial passes
    (timer,) = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == instance.id))
    state_before = instance.state
    clock.set(timer.due_at + timedelta(minutes=1))
    report = fire_due_timers(clock=clock)
    return db.session.get(PathwayInstance, instance.id), timer, state_before, report


def test_instance_goes_to_error_and_timer_is_kept_when_script_after_timer_divides_by_zero(app, clock):
    instance, timer, state_before, report = _fire_failing_script_timer(clock)
    assert (instance.status, instance.error_element) == ("error", "calcul_h1")
    assert "division by zero" in instance.error_message
    assert instance.state == state_before
    db.session.refresh(timer)
    assert (timer.status, timer.fired_at) == ("pending", None)  # never lost, never marked fired
    assert _open_items(instance.id) == []
    assert _event("instance.error", instance.id).details["element_id"] == "calcul_h1"
    assert "timer.fired" not in _actions(instance.id)
    assert fire_due_timers(clock=clock).fired == 0  # an instance in error is not retried by every tick


def test_tick_reports_the_failure_when_a_timer_step_puts_instance_in_error(app, clock):
    instance, timer, state_before, report = _fire_failing_script_timer(clock)
    assert instance.status == "error"
    # `parcours tick` prints these counts and exits 1 on errors: the failed step must not count as fired
    assert report.fired == 0
    assert len(report.errors) == 1
    assert "calcul_h1" in report.errors[0] and "division by zero" in report.errors[0]
