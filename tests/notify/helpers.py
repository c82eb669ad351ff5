"""Shared set-up of the reminder tests: a patient and care team, a pathway that plans a reminder at once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.clock import ManualClock
from engine.db import db
from engine.models import AuditEvent, OutboxMessage, PathwayVersion, Patient, Reminder
from engine.notify.channels import build_channels, close_channels
from engine.notify.settings import NotifySettings
from engine.services.instances import enrol_patient
from engine.services.reminders import DispatchReport, dispatch_due_reminders
from engine.types import Actor
from tests.factories import deploy_test_bpmn, make_team

TEAM = ["infirmier", "coordinateur"]


def settings(email_url: str | None = None, **kwargs: object) -> NotifySettings:
    return NotifySettings(email_url=email_url, retry_delay=timedelta(minutes=1), max_attempts=3,
                          cancel_contact="le 01 23 45 67 89", **kwargs)  # type: ignore[arg-type]


def patient_with_team(clock: ManualClock, *, identifier: str = "P-001", email: str | None = "jeanne@example.org",
                      phone: str | None = "+33600000000") -> Patient:
    patient, team = make_team(clock, TEAM, identifier=identifier)
    for pro in team.values():
        pro.email = pro.email or f"{pro.login}@msp.test"
    patient.email = email
    patient.phone = phone
    db.session.commit()
    return patient


def enrol_critical_reminder(clock: ManualClock, patient: Patient, day: str = "2026-11-20") -> Reminder:
    """Enrol on tests/bpmn/rappel_critique.bpmn: an e-mail reminder (critical) for `day` 14:00, due now."""
    deploy_once("rappel_critique", clock)
    enrol_patient(patient.id, "rappel_critique", context={"date_chirurgie": day}, actor=Actor.cli(), clock=clock)
    db.session.commit()
    return db.session.scalars(select(Reminder).where(Reminder.patient_id == patient.id)
                              .order_by(Reminder.id.desc())).first()  # type: ignore[return-value]


def deploy_once(name: str, clock: ManualClock) -> None:
    if db.session.scalar(select(PathwayVersion.id).where(PathwayVersion.key == name)) is None:
        deploy_test_bpmn(name, clock)


def dispatch(clock: ManualClock, config: NotifySettings) -> DispatchReport:
    channels = build_channels(config)
    try:
        return dispatch_due_reminders(clock=clock, channels=channels, settings=config)
    finally:
        close_channels(channels)


def actions(reminder_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "reminder",
                                                                   AuditEvent.object_id == str(reminder_id))
                                   .order_by(AuditEvent.id)))


def outbox(reminder_id: int | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if reminder_id is not None:
        query = query.where(OutboxMessage.reminder_id == reminder_id)
    return list(db.session.scalars(query))
