"""Instances in error, seen and handled by the site's care manager: retry, skip the failed step, cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.db import db
from engine.errors import AccessDenied, InvalidInput, InvalidTransition, NotPermitted
from engine.models import AuditEvent, DueTimer, PathwayInstance, WorkItem
from engine.services.inbox import complete_work_item
from engine.services.incidents import cancel_failed_instance, list_incidents, retry_instance, skip_failed_step
from engine.services.instances import enrol_patient
from engine.services.pathways import PathwaySource, deploy_pathway
from engine.services.timers import fire_due_timers
from engine.services.version_migration import migrate_instances
from engine.types import Actor
from tests.engine.test_version_migration import care_manager
from tests.factories import TESTS, actor, deploy_test_bpmn, make_team

CLI = Actor.cli()


def _events(action: str, instance_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                            AuditEvent.instance_id == instance_id)
                                   .order_by(AuditEvent.id)))


def _open(instance_id: int) -> list[str]:
    return list(db.session.scalars(select(WorkItem.element_id).where(
        WorkItem.instance_id == instance_id, WorkItem.status.in_(["open", "claimed"]))))


def script_in_error(clock):
    """failing_script: the script after the H+1 timer divides by zero (diviseur = 4); the tick puts it in error."""
    deploy_test_bpmn("failing_script", clock)
    patient, team = make_team(clock, ["infirmier"])
    outcome = enrol_patient(patient.identifier, "failing_script", actor=CLI, clock=clock)
    db.session.commit()
    clock.advance(timedelta(hours=1, minutes=1))
    fire_due_timers(clock=clock)
    instance = db.session.get(PathwayInstance, outcome.instance_id)
    assert (instance.status, instance.error_element) == ("error", "calcul_h1")
    return instance.id, patient, team


def condition_in_error(clock):
    """failing_condition: the nurse's divisor 0 makes the gateway's condition fail when she submits it."""
    deploy_test_bpmn("failing_condition", clock)
    patient, team = make_team(clock, ["infirmier", "medecin_traitant"])
    outcome = enrol_patient(patient.identifier, "failing_condition", actor=CLI, clock=clock)
    db.session.commit()
    item = db.session.scalar(select(WorkItem).where(WorkItem.instance_id == outcome.instance_id))
    complete_work_item(item.id, {"diviseur": 0}, actor=actor(team["infirmier"]), clock=clock)
    db.session.commit()
    assert db.session.get(PathwayInstance, outcome.instance_id).status == "error"
    return outcome.instance_id, patient, team


def test_care_manager_lists_the_site_instances_in_error_with_element_and_message(app, clock):
    instance_id, patient, _team = script_in_error(clock)
    manager = care_manager(clock)
    (incident,) = list_incidents(manager, clock=clock)
    assert (incident.instance_id, incident.patient.id, incident.element_id) == (instance_id, patient.id, "calcul_h1")
    assert incident.element_title == "Dose à H+1" and "division by zero" in incident.message
    (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "incident.listed"))
    assert event.details["patients"] == [patient.id] and event.actor_id == manager.professional_id


def test_another_site_care_manager_sees_none_and_may_not_touch_it(app, clock):
    instance_id, _patient, _team = script_in_error(clock)
    elsewhere = care_manager(clock, login="coord-ailleurs", site="Autre site")
    assert list_incidents(elsewhere, clock=clock) == []
    with pytest.raises(AccessDenied):
        retry_instance(elsewhere, instance_id, clock=clock)
    db.session.rollback()
    with pytest.raises(AccessDenied):
        cancel_failed_instance(elsewhere, instance_id, "pas chez nous", clock=clock)
    db.session.rollback()
    assert db.session.get(PathwayInstance, instance_id).status == "error"


def test_incidents_are_for_care_managers_only(app, clock):
    instance_id, _patient, team = script_in_error(clock)
    with pytest.raises(NotPermitted):
        list_incidents(actor(team["infirmier"]), clock=clock)
    with pytest.raises(NotPermitted):
        retry_instance(actor(team["infirmier"]), instance_id, clock=clock)


def test_retry_that_fails_again_keeps_the_instance_in_error_with_the_new_message(app, clock):
    instance_id, _patient, _team = script_in_error(clock)
    clock.advance(timedelta(minutes=30))
    manager = care_manager(clock)
    outcome = retry_instance(manager, instance_id, clock=clock)
    db.session.commit()
    assert (outcome.status, outcome.error_element) == ("error", "calcul_h1")
    instance = db.session.get(PathwayInstance, instance_id)
    assert instance.status == "error" and "division by zero" in instance.error_message
    assert instance.updated_at == clock.now()  # the new failure's time
    (retried,) = _events("instance.retried", instance_id)
    assert (retried.outcome, retried.actor_id) == ("error", manager.professional_id)
    assert retried.details["failed"]["element_id"] == "calcul_h1"
    assert len(_events("instance.error", instance_id)) == 2
    (timer,) = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == instance_id))
    assert timer.status == "pending"  # still there for the next retry


def test_skip_completes_the_failed_step_without_running_it_and_goes_on(app, clock):
    instance_id, _patient, team = script_in_error(clock)
    outcome = skip_failed_step(care_manager(clock), instance_id, "Dose calculée à la main par le médecin",
                               clock=clock)
    db.session.commit()
    assert outcome.status == "active" and outcome.error_message is None
    instance = db.session.get(PathwayInstance, instance_id)
    assert (instance.status, instance.error_element, instance.error_message) == ("active", None, None)
    assert _open(instance_id) == ["suivi"]
    (timer,) = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == instance_id))
    assert timer.status == "fired"
    (skipped,) = _events("instance.step_skipped", instance_id)
    assert skipped.outcome == "success"
    assert skipped.details["reason"] == "Dose calculée à la main par le médecin"
    assert skipped.details["element_id"] == "calcul_h1"
    assert "dose_h1" not in str(db.session.get(PathwayInstance, instance_id).state)  # the script never ran


def test_skip_and_cancel_need_a_reason(app, clock):
    instance_id, _patient, _team = script_in_error(clock)
    manager = care_manager(clock)
    with pytest.raises(InvalidInput, match="reason"):
        skip_failed_step(manager, instance_id, "  ", clock=clock)
    with pytest.raises(InvalidInput, match="reason"):
        cancel_failed_instance(manager, instance_id, "", clock=clock)
    db.session.rollback()
    assert db.session.get(PathwayInstance, instance_id).status == "error"


def test_cancel_ends_the_instance_in_error_with_the_reason_audited(app, clock):
    instance_id, _patient, _team = script_in_error(clock)
    manager = care_manager(clock)
    cancel_failed_instance(manager, instance_id, "Patient sorti du parcours", clock=clock)
    db.session.commit()
    assert db.session.get(PathwayInstance, instance_id).status == "cancelled"
    (timer,) = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == instance_id))
    assert timer.status == "cancelled"
    (event,) = _events("instance.cancelled", instance_id)
    assert (event.actor_id, event.details["reason"]) == (manager.professional_id, "Patient sorti du parcours")


def test_every_action_is_refused_readably_when_the_instance_is_not_in_error(app, clock):
    deploy_test_bpmn("failing_script", clock)
    patient, _team = make_team(clock, ["infirmier"])
    instance_id = enrol_patient(patient.identifier, "failing_script", actor=CLI, clock=clock).instance_id
    db.session.commit()
    manager = care_manager(clock)
    for action in (lambda: retry_instance(manager, instance_id, clock=clock),
                   lambda: skip_failed_step(manager, instance_id, "motif", clock=clock),
                   lambda: cancel_failed_instance(manager, instance_id, "motif", clock=clock)):
        with pytest.raises(InvalidTransition, match="is active, not in error"):
            action()
        db.session.rollback()
    assert db.session.get(PathwayInstance, instance_id).status == "active"


def test_retry_after_a_failed_form_puts_the_form_back_to_submit_again(app, clock):
    instance_id, _patient, team = condition_in_error(clock)
    outcome = retry_instance(care_manager(clock), instance_id, clock=clock)
    db.session.commit()
    assert outcome.status == "active"
    assert _open(instance_id) == ["saisie_dose"]
    item = db.session.scalar(select(WorkItem).where(WorkItem.instance_id == instance_id))
    complete_work_item(item.id, {"diviseur": 5}, actor=actor(team["infirmier"]), clock=clock)
    db.session.commit()
    assert _open(instance_id) == ["avis_mt"]


def test_skip_is_refused_when_the_failed_step_followed_a_form(app, clock):
    instance_id, _patient, _team = condition_in_error(clock)
    with pytest.raises(InvalidTransition, match="submit the form again"):
        skip_failed_step(care_manager(clock), instance_id, "motif", clock=clock)
    db.session.rollback()
    assert db.session.get(PathwayInstance, instance_id).status == "error"


def test_a_fixed_version_rescues_an_instance_in_error_migrate_then_retry(app, clock):
    instance_id, _patient, _team = script_in_error(clock)
    source = db.session.get(PathwayInstance, instance_id).version_id
    fixed = (TESTS / "bpmn" / "failing_script.bpmn").read_text(encoding="utf-8").replace(
        "100 / (diviseur - 4)", "100 / diviseur")
    target = deploy_pathway(PathwaySource("failing_script.bpmn", fixed.encode()), actor=CLI, clock=clock).version.id
    db.session.commit()
    manager = care_manager(clock)
    migrate_instances(manager, source, target, [instance_id], clock=clock)
    db.session.commit()
    assert db.session.get(PathwayInstance, instance_id).status == "error"  # moved, still waiting for a decision
    outcome = retry_instance(manager, instance_id, clock=clock)
    db.session.commit()
    assert outcome.status == "active" and _open(instance_id) == ["suivi"]
