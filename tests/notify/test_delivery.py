"""Reminder delivery on the injected clock: a real SMTP server, quiet hours, opt-out and STOP, retries,
fallback, the coordinator alert, receipts, leases and concurrent dispatchers."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.db import db
from engine.models import DeliveryReceipt, OutboxMessage, Reminder, ReminderStatus, WorkItem, WorkItemKind
from engine.notify.channels import build_channels
from engine.services.delivery import handle_inbound_stop, record_delivery_receipt
from engine.services.inbox import list_inbox
from engine.services.instances import cancel_instance
from engine.services.people import actor_for, professional_by_login
from engine.services.reminder_claims import claim_due_reminders
from engine.services.reminders import dispatch_due_reminders
from engine.types import Actor
from tests.conftest import PARIS
from tests.notify.helpers import actions, dispatch, enrol_critical_reminder, outbox, patient_with_team, settings
from tests.notify.smtp_sink import SmtpSink, free_port

MONDAY_10H = datetime(2026, 11, 16, 10, 0, tzinfo=PARIS)


def test_reminder_reaches_a_real_smtp_server_in_french_when_email_goes_through_apprise(
        app: Flask, clock: ManualClock) -> None:
    clock.set(MONDAY_10H)
    patient = patient_with_team(clock)
    reminder = enrol_critical_reminder(clock, patient, day="2026-11-20")
    with SmtpSink() as sink:
        report = dispatch(clock, settings(sink.apprise_url))
        again = dispatch(clock, settings(sink.apprise_url))
        received = sink.wait_for(1)
    assert (report.sent, again.sent) == (1, 0)
    assert len(received) == 1 and received[0].recipients == ["jeanne@example.org"]
    text = received[0].text
    assert "vendredi 20 novembre 2026 à 14 h" in text and "MSP Test" in text
    assert "le 01 23 45 67 89" in text and "STOP" in text
    assert received[0].subject == "Rappel : rendez-vous le vendredi 20 novembre 2026"
    assert received[0].message["X-Parcours-Ref"] == f"parcours-{reminder.id}-email"
    db.session.refresh(reminder)
    assert (reminder.status, reminder.attempts, reminder.provider_id) == ("sent", 1, f"parcours-{reminder.id}-email")
    assert reminder.rendered_text == text
    assert actions(reminder.id) == ["reminder.planned", "reminder.sent"]


def test_pooled_smtp_channel_delivers_with_a_stable_message_id_when_the_url_is_smtp(
        app: Flask, clock: ManualClock) -> None:
    clock.set(MONDAY_10H)
    reminders = [enrol_critical_reminder(clock, patient_with_team(clock, identifier=f"P-{n}",
                                                                  email=f"p{n}@example.org")) for n in range(3)]
    with SmtpSink() as sink:
        assert dispatch(clock, settings(sink.smtp_url)).sent == 3
        received = sink.wait_for(3)
    assert sorted(r.recipients[0] for r in received) == ["p0@example.org", "p1@example.org", "p2@example.org"]
    assert {r.message["Message-ID"] for r in received} == {f"<parcours-{r.id}-email@parcours>" for r in reminders}


def test_reminder_waits_for_the_morning_when_due_in_quiet_hours(app: Flask, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 16, 7, 30, tzinfo=PARIS))  # Monday, before 09:00
    reminder = enrol_critical_reminder(clock, patient_with_team(clock))
    config = settings()
    assert dispatch(clock, config).deferred == 1
    db.session.refresh(reminder)
    assert reminder.status == "pending" and reminder.status_reason == "quiet_hours"
    assert reminder.next_attempt_at == datetime(2026, 11, 16, 9, 0, tzinfo=PARIS)
    clock.set(datetime(2026, 11, 16, 8, 59, tzinfo=PARIS))
    assert dispatch(clock, config).sent == 0
    clock.set(datetime(2026, 11, 16, 9, 0, tzinfo=PARIS))
    assert dispatch(clock, config).sent == 1
    assert len(outbox(reminder.id)) == 1 and actions(reminder.id)[1:] == ["reminder.deferred", "reminder.sent"]


def test_reminder_due_on_sunday_evening_waits_for_monday_nine_in_the_patient_s_timezone(
        app: Flask, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 15, 12, 0, tzinfo=PARIS))  # Sunday noon in Paris
    patient = patient_with_team(clock)
    patient.timezone = "America/Martinique"  # UTC-4: Sunday 07:00 there
    db.session.commit()
    reminder = enrol_critical_reminder(clock, patient, day="2026-11-25")
    dispatch(clock, settings())
    db.session.refresh(reminder)
    from zoneinfo import ZoneInfo
    assert reminder.next_attempt_at == datetime(2026, 11, 16, 9, 0, tzinfo=ZoneInfo("America/Martinique"))


def test_reminder_is_cancelled_not_sent_late_when_the_appointment_is_over(app: Flask, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 16, 7, 0, tzinfo=PARIS))
    reminder = enrol_critical_reminder(clock, patient_with_team(clock), day="2026-11-16")  # today 14:00
    clock.set(datetime(2026, 11, 16, 15, 0, tzinfo=PARIS))  # no dispatcher ran until after the appointment
    report = dispatch(clock, settings())
    db.session.refresh(reminder)
    assert (report.cancelled, report.sent) == (1, 0)
    assert (reminder.status, reminder.status_reason) == ("cancelled", "appointment_passed")
    assert outbox(reminder.id) == []


def test_reminder_is_cancelled_at_once_when_the_quiet_window_ends_after_the_appointment(
        app: Flask, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 15, 10, 0, tzinfo=PARIS))  # Sunday: quiet all day
    reminder = enrol_critical_reminder(clock, patient_with_team(clock), day="2026-11-15")  # Sunday 14:00
    assert dispatch(clock, settings()).cancelled == 1
    db.session.refresh(reminder)
    assert reminder.status_reason == "appointment_passed"


def test_inbound_stop_by_email_moves_the_reminder_to_sms_and_stop_by_sms_cancels_the_next(
        app: Flask, clock: ManualClock) -> None:
    clock.set(MONDAY_10H)
    patient = patient_with_team(clock)
    assert handle_inbound_stop("Jeanne@Example.org", clock=clock) == [patient.id]
    db.session.commit()
    first = enrol_critical_reminder(clock, patient)
    assert dispatch(clock, settings()).sent == 1
    db.session.refresh(first)
    assert first.channel == "sms" and [m.address for m in outbox(first.id)] == ["+33600000000"]
    assert "reminder.channel_changed" in actions(first.id)

    assert handle_inbound_stop("06 00 00 00 00", clock=clock) == [patient.id]  # national format
    cancel_instance(first.instance_id or 0, actor=Actor.cli(), clock=clock, reason="second enrolment")
    db.session.commit()
    second = enrol_critical_reminder(clock, patient, day="2026-11-27")
    assert dispatch(clock, settings()).cancelled == 1
    db.session.refresh(second)
    assert (second.status, second.status_reason) == ("cancelled", "opted_out")
    assert outbox(second.id) == []


def test_stop_from_an_unknown_number_changes_nothing(app: Flask, clock: ManualClock) -> None:
    patient = patient_with_team(clock)
    assert handle_inbound_stop("+33799999999", clock=clock) == []
    db.session.refresh(patient)
    assert not patient.opt_out_sms


def test_failed_email_is_retried_with_backoff_then_falls_back_to_sms(app: Flask, clock: ManualClock) -> None:
    clock.set(MONDAY_10H)
    reminder = enrol_critical_reminder(clock, patient_with_team(clock))
    config = settings(f"mailto://127.0.0.1:{free_port()}?from=rappels@parcours.test&mode=insecure")  # nobody
    assert dispatch(clock, config).retrying == 1
    db.session.refresh(reminder)
    assert (reminder.attempts, reminder.next_attempt_at) == (1, MONDAY_10H + timedelta(minutes=1))
    clock.set(MONDAY_10H + timedelta(seconds=59))
    assert dispatch(clock, config).retrying == 0  # not yet
    clock.set(MONDAY_10H + timedelta(minutes=1))
    dispatch(clock, config)
    db.session.refresh(reminder)
    assert (reminder.attempts, reminder.next_attempt_at) == (2, MONDAY_10H + timedelta(minutes=3))
    clock.set(MONDAY_10H + timedelta(minutes=3))
    dispatch(clock, config)  # third e-mail attempt fails: the sms channel takes over at once
    db.session.refresh(reminder)
    assert (reminder.channel, reminder.fallback_from, reminder.status) == ("sms", "email", "pending")
    dispatch(clock, config)
    db.session.refresh(reminder)
    assert (reminder.status, reminder.attempts) == ("sent", 4)
    assert [m.channel for m in outbox(reminder.id)] == ["sms"]
    assert actions(reminder.id).count("reminder.attempt_failed") == 3
    assert "reminder.fallback" in actions(reminder.id)


def test_critical_reminder_opens_one_coordinator_work_item_when_every_channel_failed(
        app: Flask, clock: ManualClock) -> None:
    clock.set(MONDAY_10H)
    reminder = enrol_critical_reminder(clock, patient_with_team(clock, phone=None))  # e-mail only
    config = settings(f"mailto://127.0.0.1:{free_port()}?from=rappels@parcours.test&mode=insecure")
    for minute in (0, 1, 3, 7, 15, 31):
        clock.set(MONDAY_10H + timedelta(minutes=minute))
        dispatch(clock, config)
    db.session.refresh(reminder)
    assert (reminder.status, reminder.attempts, reminder.status_reason) == ("failed", 3, "undelivered")
    alerts = list(db.session.scalars(select(WorkItem).where(WorkItem.kind == WorkItemKind.ALERT.value)))
    assert len(alerts) == 1 and alerts[0].role_code == "coordinateur" and alerts[0].priority == "urgent"
    coordinator = actor_for(professional_by_login("coordinateur"))
    assert alerts[0].id in [item.id for item in list_inbox(coordinator, clock=clock)]


def test_receipts_are_deduplicated_by_provider_id_and_delivered_is_final(app: Flask, clock: ManualClock) -> None:
    clock.set(MONDAY_10H)
    reminder = enrol_critical_reminder(clock, patient_with_team(clock))
    dispatch(clock, settings())
    db.session.refresh(reminder)
    provider_id = reminder.provider_id
    assert provider_id
    first = record_delivery_receipt(provider_id, "DELIVRD", clock=clock)
    again = record_delivery_receipt(provider_id, "DELIVRD", clock=clock)
    late_interim = record_delivery_receipt(provider_id, "SUBMITD", clock=clock)
    db.session.commit()
    assert (first.status, first.duplicate, again.duplicate) == ("delivered", False, True)
    assert late_interim.status == "delivered"
    assert db.session.scalar(select(func.count()).select_from(DeliveryReceipt)) == 2
    assert actions(reminder.id).count("reminder.receipt") == 2


def test_undelivered_receipt_sends_again_on_the_other_channel(app: Flask, clock: ManualClock) -> None:
    clock.set(MONDAY_10H)
    reminder = enrol_critical_reminder(clock, patient_with_team(clock))
    dispatch(clock, settings())
    db.session.refresh(reminder)
    assert record_delivery_receipt(reminder.provider_id or "", "UNDELIV", clock=clock).status == "pending"
    db.session.commit()
    dispatch(clock, settings())
    db.session.refresh(reminder)
    assert (reminder.status, reminder.channel) == ("sent", "sms")
    assert [m.channel for m in outbox(reminder.id)] == ["email", "sms"]


def test_a_dispatcher_that_died_mid_send_leaves_the_reminder_to_be_sent_after_its_lease(
        app: Flask, clock: ManualClock) -> None:
    clock.set(MONDAY_10H)
    reminder = enrol_critical_reminder(clock, patient_with_team(clock))
    config = settings()
    assert [rid for rid, _ in claim_due_reminders(clock.now(), lease=config.lease, limit=10)] == [reminder.id]
    db.session.commit()  # ...and the dispatcher is killed here
    assert dispatch(clock, config).sent == 0  # leased: nobody else takes it
    clock.set(MONDAY_10H + config.lease + timedelta(seconds=1))
    assert dispatch(clock, config).sent == 1
    assert len(outbox(reminder.id)) == 1 and "reminder.lease_expired" in actions(reminder.id)


def test_concurrent_dispatchers_send_each_reminder_exactly_once(app: Flask, clock: ManualClock) -> None:
    clock.set(MONDAY_10H)
    ids = {enrol_critical_reminder(clock, patient_with_team(clock, identifier=f"C-{n}")).id for n in range(30)}
    db.session.remove()
    config = settings()
    reports = []

    def worker() -> None:
        with app.app_context():
            reports.append(dispatch_due_reminders(clock=clock, channels=build_channels(config), settings=config,
                                                  limit=7))
            while True:
                report = dispatch_due_reminders(clock=clock, channels=build_channels(config), settings=config,
                                                limit=7)
                reports.append(report)
                if report.sent == 0 and not report.errors:
                    break

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [e for r in reports for e in r.errors]
    assert sum(r.sent for r in reports) == 30
    per_reminder = db.session.execute(select(OutboxMessage.reminder_id, func.count())
                                      .group_by(OutboxMessage.reminder_id)).all()
    assert sorted(count for _, count in per_reminder) == [1] * 30
    assert ids == {rid for rid, _ in per_reminder}
    assert all(s == ReminderStatus.SENT.value for s in db.session.scalars(select(Reminder.status)))

