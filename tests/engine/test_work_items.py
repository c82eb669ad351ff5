"""Work items through the services: role queues, claim / unclaim / hand back, comments, who may act."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.errors import AccessDenied, InvalidInput, InvalidTransition, NotFound, NotPermitted
from engine.models import AuditEvent, Patient, Professional, WorkItem, WorkItemComment
from engine.services import audit
from engine.services.inbox import (
    claim_work_item,
    comment_work_item,
    complete_work_item,
    list_inbox,
    release_work_item,
)
from engine.services.instances import enrol_patient
from engine.services.people import add_care_team_member, create_patient, create_professional
from engine.types import Actor
from tests.factories import actor, deploy_test_bpmn, make_team
from webapp.cli import main as parcours_cli


def _enrol(clock, roles=("infirmier", "medecin_traitant", "chirurgien")) -> tuple[Patient, dict, WorkItem]:
    """nurse_then_gp for patient P-001: the nurse's 'bilan_infirmier' opens at once."""
    deploy_test_bpmn("nurse_then_gp", clock)
    patient, team = make_team(clock, list(roles))
    outcome = enrol_patient(patient.identifier, "nurse_then_gp", actor=Actor.cli(), clock=clock)
    db.session.commit()
    (item_id,) = outcome.opened_work_items
    return patient, team, db.session.get(WorkItem, item_id)


def _nurse(login: str, clock, patient: Patient | None = None, *, end=None) -> Professional:
    pro = create_professional(login, f"IDE {login}", ["infirmier"], at=clock.now(), site="MSP Test")
    if patient is not None:
        add_care_team_member(patient, pro, "infirmier", start=clock.now(), end=end)
    db.session.commit()
    return pro


def _inbox_ids(pro: Professional, clock) -> list[int]:
    return [i.id for i in list_inbox(actor(pro), clock=clock)]


def _audits(action: str, item: WorkItem) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.object_type == "work_item",
        AuditEvent.object_id == str(item.id)).order_by(AuditEvent.id)))


def _comments(item: WorkItem) -> list[WorkItemComment]:
    return list(db.session.scalars(select(WorkItemComment).where(WorkItemComment.work_item_id == item.id)
                                   .order_by(WorkItemComment.id)))


def _queue_item_with_two_nurses(clock) -> tuple[Patient, dict, WorkItem, Professional, Professional]:
    """The team had no nurse when the step opened (role queue); two nurses join the team afterwards."""
    patient, team, item = _enrol(clock, roles=("medecin_traitant",))
    assert item.assignee_id is None and item.role_code == "infirmier"
    clock.advance(timedelta(minutes=5))
    return patient, team, item, _nurse("ide-a", clock, patient), _nurse("ide-b", clock, patient)


# -- role-queue visibility ---------------------------------------------------------------------------------------

def test_unassigned_item_appears_in_each_team_nurse_inbox_when_team_had_no_nurse_at_opening(app, clock):
    patient, team, item, nurse_a, nurse_b = _queue_item_with_two_nurses(clock)
    assert _inbox_ids(nurse_a, clock) == [item.id]
    assert _inbox_ids(nurse_b, clock) == [item.id]
    assert _inbox_ids(team["medecin_traitant"], clock) == []  # same care team, other role


def test_unassigned_item_stays_out_of_inbox_when_nurse_is_not_in_patients_care_team(app, clock):
    patient, team, item, nurse_a, nurse_b = _queue_item_with_two_nurses(clock)
    other_patient = create_patient("P-002", "Durand", "Paul", at=clock.now(), site="MSP Test")
    outsider = _nurse("ide-autre-patient", clock, other_patient)
    assert _inbox_ids(outsider, clock) == []


def test_unassigned_item_leaves_inbox_when_nurse_care_team_membership_has_ended(app, clock):
    patient, team, item = _enrol(clock, roles=("medecin_traitant",))
    replacement = _nurse("ide-remplacante", clock, patient, end=clock.now() + timedelta(days=1))
    assert _inbox_ids(replacement, clock) == [item.id]
    clock.advance(timedelta(days=2))
    assert _inbox_ids(replacement, clock) == []
    with pytest.raises(NotFound):
        claim_work_item(item.id, actor=actor(replacement), clock=clock)


def test_item_goes_to_care_team_nurse_only_when_team_has_a_nurse_at_opening(app, clock):
    patient, team, item = _enrol(clock)
    assert item.assignee_id == team["infirmier"].id
    late_nurse = _nurse("ide-arrivee-apres", clock, patient)
    assert _inbox_ids(team["infirmier"], clock) == [item.id]
    assert _inbox_ids(late_nurse, clock) == []  # assigned, so not in the role queue


# -- claim ------------------------------------------------------------------------------------------------------

def test_claim_marks_item_claimed_by_me_when_team_nurse_claims_from_role_queue(app, clock):
    patient, team, item, nurse_a, nurse_b = _queue_item_with_two_nurses(clock)
    clock.advance(timedelta(minutes=10))
    claimed = claim_work_item(item.id, actor=actor(nurse_a), clock=clock)
    db.session.commit()
    assert (claimed.status, claimed.assignee_id, claimed.claimed_at) == ("claimed", nurse_a.id, clock.now())
    assert [(c.kind, c.author_id) for c in _comments(item)] == [("claim", nurse_a.id)]
    (event,) = _audits("work_item.claimed", item)
    assert (event.actor_id, event.patient_id, event.instance_id, event.outcome) == (
        nurse_a.id, patient.id, item.instance_id, "success")


def test_claimed_item_leaves_other_nurses_inbox_when_one_nurse_claims_it(app, clock):
    patient, team, item, nurse_a, nurse_b = _queue_item_with_two_nurses(clock)
    claim_work_item(item.id, actor=actor(nurse_a), clock=clock)
    db.session.commit()
    assert _inbox_ids(nurse_a, clock) == [item.id]
    assert _inbox_ids(nurse_b, clock) == []


def test_claim_is_refused_when_a_colleague_already_claimed_the_item(app, clock):
    patient, team, item, nurse_a, nurse_b = _queue_item_with_two_nurses(clock)
    claim_work_item(item.id, actor=actor(nurse_a), clock=clock)
    db.session.commit()
    with pytest.raises(InvalidTransition, match="already claimed"):
        claim_work_item(item.id, actor=actor(nurse_b), clock=clock)
    db.session.rollback()
    assert db.session.get(WorkItem, item.id).assignee_id == nurse_a.id
    assert len(_audits("work_item.claimed", item)) == 1


def test_claim_is_refused_when_professional_in_team_lacks_the_role(app, clock):
    patient, team, item = _enrol(clock)
    with pytest.raises(NotPermitted, match="infirmier"):
        claim_work_item(item.id, actor=actor(team["chirurgien"]), clock=clock)
    db.session.rollback()
    refreshed = db.session.get(WorkItem, item.id)
    assert (refreshed.status, refreshed.assignee_id) == ("open", team["infirmier"].id)
    assert _audits("work_item.claimed", item) == []


def test_claim_is_refused_when_site_coordinator_does_not_hold_the_role(app, clock):
    patient, team, item = _enrol(clock, roles=("medecin_traitant",))
    coordinator = create_professional("coord", "Coordinatrice", ["coordinateur"], at=clock.now(), site="MSP Test")
    db.session.commit()
    with pytest.raises(NotPermitted):  # may see the patient (same site), may not do a nurse's step
        claim_work_item(item.id, actor=actor(coordinator), clock=clock)


def test_claim_is_answered_not_found_and_audited_when_nurse_is_outside_care_team(app, clock):
    patient, team, item = _enrol(clock, roles=("medecin_traitant",))
    outsider = _nurse("ide-exterieure", clock)
    with pytest.raises(NotFound) as err:
        claim_work_item(item.id, actor=actor(outsider), clock=clock)
    assert isinstance(err.value, AccessDenied)
    assert patient.identifier not in str(err.value) and patient.family_name not in str(err.value)
    db.session.rollback()
    audit.record_denial(err.value, at=clock.now())  # what every entry point does after the rollback
    db.session.commit()
    refreshed = db.session.get(WorkItem, item.id)
    assert (refreshed.status, refreshed.assignee_id) == ("open", None)
    (denial,) = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied"))
    assert (denial.action, denial.actor_id, denial.actor_label, denial.patient_id) == (
        "work_item.claimed", outsider.id, "ide-exterieure", patient.id)
    assert _audits("work_item.claimed", item) == []


def test_denied_claim_is_recorded_in_audit_when_made_through_the_command_line(app, clock):
    patient, team, item = _enrol(clock, roles=("medecin_traitant",))
    outsider = _nurse("ide-exterieure", clock)
    result = app.test_cli_runner().invoke(parcours_cli, args=["claim", str(item.id), "--user", "ide-exterieure"])
    assert result.exit_code == 1
    assert "no such patient" in result.output
    db.session.rollback()
    (denial,) = db.session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied"))
    assert (denial.action, denial.actor_id, denial.patient_id) == ("work_item.claimed", outsider.id, patient.id)
    assert db.session.get(WorkItem, item.id).status == "open"


def test_completion_is_answered_not_found_when_nurse_is_outside_care_team(app, clock):
    patient, team, item = _enrol(clock, roles=("medecin_traitant",))
    outsider = _nurse("ide-exterieure", clock)
    with pytest.raises(AccessDenied):
        complete_work_item(item.id, {}, actor=actor(outsider), clock=clock)
    db.session.rollback()
    assert db.session.get(WorkItem, item.id).status == "open"


# -- unclaim and hand back --------------------------------------------------------------------------------------

def test_unclaim_returns_item_to_role_queue_when_assignee_unclaims(app, clock):
    patient, team, item, nurse_a, nurse_b = _queue_item_with_two_nurses(clock)
    claim_work_item(item.id, actor=actor(nurse_a), clock=clock)
    db.session.commit()
    released = release_work_item(item.id, actor=actor(nurse_a), clock=clock, reason="")
    db.session.commit()
    assert (released.status, released.assignee_id, released.claimed_at) == ("open", None, None)
    assert _inbox_ids(nurse_b, clock) == [item.id]
    assert [c.kind for c in _comments(item)] == ["claim", "unclaim"]
    (event,) = _audits("work_item.unclaim", item)
    assert event.actor_id == nurse_a.id


def test_hand_back_returns_item_to_role_queue_with_reason_when_assignee_hands_it_back(app, clock):
    patient, team, item = _enrol(clock)
    nurse = team["infirmier"]
    colleague = _nurse("ide-collegue", clock, patient)
    assert _inbox_ids(colleague, clock) == []
    claim_work_item(item.id, actor=actor(nurse), clock=clock)
    db.session.commit()
    clock.advance(timedelta(hours=1))
    reason = "En congé à partir de demain, patient à reprendre"
    handed = release_work_item(item.id, actor=actor(nurse), clock=clock, reason=reason, hand_back=True)
    db.session.commit()
    assert (handed.status, handed.assignee_id) == ("open", None)
    assert _inbox_ids(colleague, clock) == [item.id]
    assert _inbox_ids(nurse, clock) == [item.id]  # still a nurse of this patient: the queue is hers too
    last = _comments(item)[-1]
    assert (last.kind, last.body, last.author_id, last.at) == ("hand_back", reason, nurse.id, clock.now())
    (event,) = _audits("work_item.hand_back", item)
    assert (event.actor_id, event.patient_id, event.details) == (nurse.id, patient.id, {"reason": reason})
    claim_work_item(item.id, actor=actor(colleague), clock=clock)  # the colleague can now take it
    db.session.commit()
    assert db.session.get(WorkItem, item.id).assignee_id == colleague.id


@pytest.mark.parametrize("reason", ["", "   "])
def test_hand_back_is_refused_when_reason_is_blank(app, clock, reason):
    patient, team, item = _enrol(clock)
    nurse = team["infirmier"]
    claim_work_item(item.id, actor=actor(nurse), clock=clock)
    db.session.commit()
    with pytest.raises(InvalidInput, match="reason"):
        release_work_item(item.id, actor=actor(nurse), clock=clock, reason=reason, hand_back=True)
    db.session.rollback()
    refreshed = db.session.get(WorkItem, item.id)
    assert (refreshed.status, refreshed.assignee_id) == ("claimed", nurse.id)
    assert [c.kind for c in _comments(item)] == ["claim"]
    assert _audits("work_item.hand_back", item) == []


def test_release_is_refused_when_item_is_claimed_by_a_colleague(app, clock):
    patient, team, item, nurse_a, nurse_b = _queue_item_with_two_nurses(clock)
    claim_work_item(item.id, actor=actor(nurse_a), clock=clock)
    db.session.commit()
    with pytest.raises(NotPermitted):
        release_work_item(item.id, actor=actor(nurse_b), clock=clock, reason="")
    with pytest.raises(NotPermitted):
        release_work_item(item.id, actor=actor(nurse_b), clock=clock, reason="je reprends", hand_back=True)
    db.session.rollback()
    assert db.session.get(WorkItem, item.id).assignee_id == nurse_a.id


def test_claim_and_hand_back_are_refused_when_item_is_completed(app, clock):
    patient, team, item = _enrol(clock)
    nurse = team["infirmier"]
    complete_work_item(item.id, {}, actor=actor(nurse), clock=clock)
    db.session.commit()
    with pytest.raises(InvalidTransition, match="completed"):
        claim_work_item(item.id, actor=actor(nurse), clock=clock)
    with pytest.raises(InvalidTransition, match="completed"):
        release_work_item(item.id, actor=actor(nurse), clock=clock, reason="trop tard", hand_back=True)


# -- comments ---------------------------------------------------------------------------------------------------

def test_comment_is_kept_on_item_and_audited_when_care_team_member_comments(app, clock):
    patient, team, item = _enrol(clock)
    gp = team["medecin_traitant"]
    clock.advance(timedelta(minutes=30))
    comment_work_item(item.id, "Merci de vérifier la tension en plus", actor=actor(gp), clock=clock)
    db.session.commit()
    (comment,) = _comments(item)
    assert (comment.kind, comment.body, comment.author_id, comment.at) == (
        "comment", "Merci de vérifier la tension en plus", gp.id, clock.now())
    (event,) = _audits("work_item.commented", item)
    assert (event.actor_id, event.patient_id) == (gp.id, patient.id)
    assert db.session.get(WorkItem, item.id).status == "open"  # a comment does not claim


def test_comment_is_refused_when_it_is_empty(app, clock):
    patient, team, item = _enrol(clock)
    with pytest.raises(InvalidInput, match="empty"):
        comment_work_item(item.id, "  \n", actor=actor(team["infirmier"]), clock=clock)
    db.session.rollback()
    assert _comments(item) == []
    assert _audits("work_item.commented", item) == []


def test_comment_is_answered_not_found_when_author_is_outside_care_team(app, clock):
    patient, team, item = _enrol(clock)
    outsider = _nurse("ide-exterieure", clock)
    with pytest.raises(AccessDenied):
        comment_work_item(item.id, "curieuse", actor=actor(outsider), clock=clock)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(WorkItemComment)) == 0
