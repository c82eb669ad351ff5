"""Care team service: who may edit, the role and period rules, the audit trail, released work on ending."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.db import db
from engine.errors import AccessDenied, InvalidInput, InvalidTransition, NotFound, NotPermitted
from engine.models import AuditEvent, CareTeamMember
from engine.services.care_teams import MembershipConflict, add_member, end_member, list_members
from engine.services.people import create_professional
from engine.types import Actor
from tests.factories import actor, make_team


def _setup(clock):
    patient, team = make_team(clock, ["infirmier", "coordinateur"])
    kine = create_professional("kine", "Mme Kiné", ["kinesitherapeute"], at=clock.now(), site="MSP Test")
    db.session.commit()
    return patient, team, kine


def test_member_added_is_audited_and_listed_as_active(app, clock):
    patient, team, kine = _setup(clock)
    member = add_member(patient.id, kine.id, "kinesitherapeute", start=clock.now(), actor=actor(team["infirmier"]),
                        clock=clock)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "care_team.member_added"))
    assert (event.patient_id, event.object_id, event.details["role"]) == (patient.id, str(member.id),
                                                                          "kinesitherapeute")
    listed = {e.professional_login: e.active for e in list_members(patient.id, at=clock.now())}
    assert listed == {"infirmier": True, "coordinateur": True, "kine": True}


def test_add_refuses_a_role_the_professional_does_not_hold_and_an_unknown_role(app, clock):
    patient, team, kine = _setup(clock)
    with pytest.raises(InvalidInput) as refused:
        add_member(patient.id, kine.id, "chirurgien", start=clock.now(), actor=Actor.cli(), clock=clock)
    assert set(refused.value.errors) == {"role"}
    with pytest.raises(InvalidInput) as unknown:
        add_member(patient.id, 9999, "sorcier", start=clock.now(), actor=Actor.cli(), clock=clock)
    assert set(unknown.value.errors) == {"professional", "role"}


def test_add_refuses_an_overlapping_membership_but_allows_a_later_one(app, clock):
    patient, team, kine = _setup(clock)
    now = clock.now()
    add_member(patient.id, kine.id, "kinesitherapeute", start=now, end=now + timedelta(days=10), actor=Actor.cli(),
               clock=clock)
    with pytest.raises(MembershipConflict, match="already 'kinesitherapeute' in this care team") as refused:
        add_member(patient.id, kine.id, "kinesitherapeute", start=now + timedelta(days=5), actor=Actor.cli(),
                   clock=clock)
    assert refused.value.errors == {"professional": "already in the care team for this role over this period"}
    add_member(patient.id, kine.id, "kinesitherapeute", start=now + timedelta(days=10), actor=Actor.cli(),
               clock=clock)


def test_outsiders_and_patients_may_not_edit_the_team(app, clock):
    patient, team, kine = _setup(clock)
    with pytest.raises(AccessDenied):
        add_member(patient.id, kine.id, "kinesitherapeute", start=clock.now(), actor=actor(kine), clock=clock)
    with pytest.raises(NotPermitted):
        add_member(patient.id, kine.id, "kinesitherapeute", start=clock.now(), actor=Actor.patient(patient.id),
                   clock=clock)


def test_end_member_sets_the_end_audits_and_refuses_twice_or_another_patients_member(app, clock):
    patient, team, _kine = _setup(clock)
    member = db.session.scalar(select(CareTeamMember).where(CareTeamMember.professional_id == team["infirmier"].id))
    end_member(patient.id, member.id, actor=actor(team["coordinateur"]), clock=clock)
    assert member.period_end == clock.now()
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_id == str(member.id),
                                                             AuditEvent.action == "care_team.member_ended"))
    with pytest.raises(InvalidTransition):
        end_member(patient.id, member.id, actor=Actor.cli(), clock=clock)
    with pytest.raises(NotFound):
        end_member(patient.id + 1, member.id, actor=Actor.cli(), clock=clock)
