"""Work-item sweep: patient invitations with a one-time link, due-soon and overdue reminders, one escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.db import db
from engine.errors import InvalidInput
from engine.models import AuditEvent, Reminder, WorkItem, WorkItemKind
from engine.services.inbox import complete_work_item, list_inbox
from engine.services.instances import enrol_patient
from engine.services.patient_links import PatientLinkError, complete_via_patient_link, open_patient_link
from engine.services.people import actor_for, professional_by_login
from engine.services.work_item_reminders import sweep_work_item_reminders
from engine.types import Actor
from tests.conftest import START
from tests.notify.helpers import deploy_once, dispatch, outbox, patient_with_team, settings


def _enrol(clock: ManualClock) -> dict[str, WorkItem]:
    deploy_once("rappels_taches", clock)
    patient = patient_with_team(clock)
    enrol_patient(patient.id, "rappels_taches", actor=Actor.cli(), clock=clock)
    db.session.commit()
    return {w.element_id: w for w in db.session.scalars(select(WorkItem))}


def _sweep(clock: ManualClock) -> None:
    sweep_work_item_reminders(clock=clock, settings=settings())
    db.session.commit()


def _reminders(template: str) -> list[Reminder]:
    return list(db.session.scalars(select(Reminder).where(Reminder.template == template)))


def test_escalation_opens_once_in_the_coordinator_s_inbox_however_many_sweeps(app: Flask, clock: ManualClock) -> None:
    items = _enrol(clock)  # bilan: due +1 day, escalated 1 day after
    clock.set(START + timedelta(hours=25))
    _sweep(clock)
    assert db.session.scalar(select(func.count()).where(WorkItem.kind == WorkItemKind.ESCALATION.value)) == 0
    clock.set(START + timedelta(hours=49))
    for _ in range(10):
        _sweep(clock)
    escalations = list(db.session.scalars(select(WorkItem).where(WorkItem.kind == WorkItemKind.ESCALATION.value)))
    assert len(escalations) == 1
    assert escalations[0].escalation_key == f"work_item:{items['bilan'].id}:escalation"
    coordinator = actor_for(professional_by_login("coordinateur"))
    assert escalations[0].id in [i.id for i in list_inbox(coordinator, clock=clock)]
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "work_item.escalated")) == 1
    assert len(_reminders("pro_en_retard")) == 1 and len(_reminders("pro_escalade")) == 1

    # an engine step of the same instance leaves the escalation open (it is no engine task)
    complete_work_item(items["mesure"].id, {"valeur": 70}, actor=Actor.cli(), clock=clock)
    db.session.commit()
    db.session.refresh(escalations[0])
    assert escalations[0].status == "open"

    # the coordinator closes it with a note: no engine step, audited, never reopened by later sweeps
    before = db.session.scalar(select(func.count()).where(AuditEvent.action == "work_item.completed"))
    complete_work_item(escalations[0].id, {"note": "patiente rappelée"}, actor=coordinator, clock=clock)
    db.session.commit()
    db.session.refresh(escalations[0])
    assert escalations[0].status == "completed" and escalations[0].data["note"] == "patiente rappelée"
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "work_item.completed")) == before + 1
    assert escalations[0].id not in [i.id for i in list_inbox(coordinator, clock=clock)]
    for _ in range(3):
        _sweep(clock)
    assert db.session.scalar(select(func.count()).where(WorkItem.kind == WorkItemKind.ESCALATION.value)) == 1


def test_professionals_are_reminded_once_when_due_soon_and_once_when_overdue(app: Flask, clock: ManualClock) -> None:
    _enrol(clock)
    clock.set(START + timedelta(hours=2))  # due in 22 h
    _sweep(clock)
    _sweep(clock)
    assert [r.recipient for r in _reminders("pro_echeance_proche")] == ["infirmier"]
    clock.set(START + timedelta(hours=30))
    _sweep(clock)
    _sweep(clock)
    overdue = _reminders("pro_en_retard")
    assert len(overdue) == 1 and overdue[0].professional_id == professional_by_login("infirmier").id
    clock.set(START + timedelta(hours=31))  # 15:00: inside the day
    assert dispatch(clock, settings()).sent >= 2
    body = outbox(overdue[0].id)[0].body
    assert "en retard depuis le mardi 17 novembre 2026 à 8 h" in body and "/inbox/work-items/" in body
    assert "Bilan" not in body and "Martin" not in body


def test_patient_completes_their_item_once_through_the_link_in_their_reminder(app: Flask, clock: ManualClock) -> None:
    items = _enrol(clock)
    clock.set(START + timedelta(hours=2))  # 10:00
    _sweep(clock)
    _sweep(clock)
    invitation, = _reminders("questionnaire_patient")
    assert dispatch(clock, settings()).sent >= 1
    message, = outbox(invitation.id)
    token = message.body.split("/p/", 1)[1].split(" ", 1)[0]
    db.session.refresh(invitation)
    assert token not in (invitation.rendered_text or "") and token[:4] in (invitation.rendered_text or "")

    view = open_patient_link(token, clock=clock)
    assert view.form_key == "test_mesure" and "valeur" in (view.form_schema or {}).get("properties", {})
    with pytest.raises(InvalidInput):
        complete_via_patient_link(token, {"valeur": "beaucoup"}, clock=clock)
    db.session.rollback()
    complete_via_patient_link(token, {"valeur": 72}, clock=clock)
    db.session.commit()
    db.session.refresh(items["mesure"])
    assert items["mesure"].status == "completed" and items["mesure"].data == {"valeur": 72}
    done = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "work_item.completed"))
    assert (done.actor_kind, done.actor_label) == ("patient", f"patient:{items['mesure'].patient_id}")
    with pytest.raises(PatientLinkError) as reused:
        complete_via_patient_link(token, {"valeur": 73}, clock=clock)
    assert reused.value.reason == "used"


def test_patient_link_refuses_a_wrong_token_and_an_expired_one_readably(app: Flask, clock: ManualClock) -> None:
    _enrol(clock)
    clock.set(START + timedelta(hours=2))
    _sweep(clock)
    dispatch(clock, settings())
    token = outbox()[0].body.split("/p/", 1)[1].split(" ", 1)[0]
    with pytest.raises(PatientLinkError) as wrong:
        open_patient_link(token[:-2] + "xx", clock=clock)
    assert wrong.value.reason == "unknown" and "not valid" in str(wrong.value)
    clock.set(START + timedelta(hours=2) + settings().patient_link_lifetime)
    with pytest.raises(PatientLinkError) as expired:
        complete_via_patient_link(token, {"valeur": 72}, clock=clock)
    assert expired.value.reason == "expired" and "expired" in str(expired.value)
    refused = db.session.scalar(select(func.count()).where(AuditEvent.action == "patient_link.refused"))
    assert refused == 1
