"""Reminder delivery: dispatch what is due, one attempt at a time, with retries, fallback and audit.

Exactly-once, as far as a network send allows: a reminder is claimed (``sending`` + a lease) and that
claim is committed before the message leaves; the outcome (``sent``, a retry time, ``failed``) is
committed right after. Two dispatchers never hold the same row. A dispatcher killed between the send and
the second commit leaves a ``sending`` row whose lease expires: it is sent again (audited as
``reminder.lease_expired``) with the same reference (X-Parcours-Ref), so the crash window can duplicate
a message but never lose one. The local outbox writes its row in the same transaction as ``sent``:
exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from engine.clock import Clock
from engine.db import db
from engine.errors import EngineError, NotFound
from engine.models import Patient, Reminder, ReminderStatus, WorkItem
from engine.notify.channels import Channel, DeliveryError, OutgoingMessage
from engine.notify.settings import NotifySettings
from engine.services.reminder_claims import claim_due_reminders, claim_reminder
from engine.services.reminder_failures import DISPATCHER, handle_failure, record_event
from engine.services.reminder_messages import build_message
from engine.services.reminder_rules import Decision, decide

log = logging.getLogger(__name__)
__all__ = ["DISPATCHER", "DispatchReport", "dispatch_due_reminders", "deliver_claimed_reminder", "send_reminder"]


@dataclass
class DispatchReport:
    sent: int = 0
    deferred: int = 0
    cancelled: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def _release(reminder: Reminder) -> None:
    reminder.lease_until = None


def _apply_decision(reminder: Reminder, decision: Decision, now: datetime) -> str:
    _release(reminder)
    if decision.action == "cancel":
        reminder.status = ReminderStatus.CANCELLED.value
        reminder.status_reason = decision.reason
        record_event(reminder, "reminder.cancelled", now, reason=decision.reason)
        return "cancelled"
    reminder.status = ReminderStatus.PENDING.value
    reminder.next_attempt_at = decision.until
    reminder.status_reason = decision.reason
    record_event(reminder, "reminder.deferred", now, reason=decision.reason,
            until=decision.until.isoformat() if decision.until else None)
    return "deferred"


def deliver_claimed_reminder(reminder_id: int, *, clock: Clock, channels: dict[str, Channel],
                             settings: NotifySettings) -> str:
    """One attempt at a reminder this caller has claimed (flushes, audits; the caller commits).

    Returns the outcome: sent, deferred, cancelled, retrying or failed.
    """
    now = clock.now()
    # The reminder with its patient and work item in one query. Holding them here matters: the session's identity
    # map keeps only objects someone references, and the decision and the template each look the patient (and
    # the work item) up again; dropped in between, they were selected again each time (three patient reads a
    # message, each flushing the row's pending changes first: seven statements a message instead of four).
    row = db.session.execute(
        select(Reminder, Patient, WorkItem).outerjoin(Patient, Patient.id == Reminder.patient_id)
        .outerjoin(WorkItem, WorkItem.id == Reminder.work_item_id).where(Reminder.id == reminder_id)
        .execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(f"no reminder {reminder_id}")
    reminder, _patient, _work_item = row
    decision = decide(reminder, now, settings)
    if decision.action != "send":
        return _apply_decision(reminder, decision, now)
    assert decision.channel is not None and decision.address is not None  # noqa: S101 - a send decision has both
    if decision.channel != reminder.channel:  # the planned channel is opted out or has no address
        record_event(reminder, "reminder.channel_changed", now, planned=reminder.channel, used=decision.channel)
        reminder.channel = decision.channel
    reminder.attempts += 1
    reminder.channel_attempts += 1
    reference = f"parcours-{reminder.id}-{reminder.channel}"
    try:
        rendered, stored_text = build_message(reminder, now=now, settings=settings)
    except EngineError as exc:  # a missing or broken template: no retry will fix it
        return handle_failure(reminder, DeliveryError(str(exc), transient=False), now, settings)
    reminder.rendered_text = stored_text
    message = OutgoingMessage(reminder.id, reminder.channel, decision.address, rendered.subject, rendered.body,
                              reference, now)
    try:
        provider_id = channels[reminder.channel].send(message)
    except DeliveryError as exc:
        return handle_failure(reminder, exc, now, settings)
    _release(reminder)
    reminder.status = ReminderStatus.SENT.value
    reminder.status_reason = None
    reminder.error = None
    reminder.provider_id = provider_id
    reminder.sent_at = now
    record_event(reminder, "reminder.sent", now, channel=reminder.channel, attempt=reminder.attempts,
            provider_id=provider_id)
    return "sent"


def _deliver_committed(reminder_id: int, taken_over: bool, report: DispatchReport, *, clock: Clock,
                       channels: dict[str, Channel], settings: NotifySettings) -> None:
    try:
        if taken_over:
            reminder = db.session.get(Reminder, reminder_id)
            if reminder is not None:
                record_event(reminder, "reminder.lease_expired", clock.now(), outcome="error",
                        note="a dispatcher stopped during this reminder; sending again")
        report.count(deliver_claimed_reminder(reminder_id, clock=clock, channels=channels, settings=settings))
        db.session.commit()
    except Exception as exc:  # one broken row must not stop the batch; its lease lets it be retried
        db.session.rollback()
        report.errors.append(f"reminder {reminder_id}: {exc}")
        log.exception("reminder %s failed", reminder_id)


def dispatch_due_reminders(*, clock: Clock, channels: dict[str, Channel], settings: NotifySettings,
                           limit: int = 500) -> DispatchReport:
    """Send every reminder due at the clock's now (this function commits: the claim, then each outcome).

    Safe with many dispatchers at once (tick, Celery workers, several machines): see the module docstring.
    """
    report = DispatchReport()
    db.session.commit()  # start from a fresh transaction (SQLite snapshots)
    claimed = claim_due_reminders(clock.now(), lease=settings.lease, limit=limit)
    db.session.commit()
    for reminder_id, taken_over in claimed:
        _deliver_committed(reminder_id, taken_over, report, clock=clock, channels=channels, settings=settings)
    return report


def send_reminder(reminder_id: int, *, clock: Clock, channels: dict[str, Channel],
                  settings: NotifySettings) -> str:
    """Claim and deliver one reminder if it is due (the Celery job). Commits. Returns the outcome or 'skipped'."""
    db.session.commit()
    claimed, taken_over = claim_reminder(reminder_id, clock.now(), lease=settings.lease)
    db.session.commit()
    if not claimed:
        return "skipped"
    report = DispatchReport()
    _deliver_committed(reminder_id, taken_over, report, clock=clock, channels=channels, settings=settings)
    if report.errors:
        raise RuntimeError(report.errors[0])
    for outcome in ("sent", "deferred", "cancelled", "retrying", "failed"):
        if getattr(report, outcome):
            return outcome
    return "skipped"  # pragma: no cover


def due_reminder_ids(now: datetime, *, limit: int = 500) -> list[int]:
    """Ids of the reminders due at ``now`` (a read, nothing claimed): for enqueueing one job each."""
    return list(db.session.scalars(
        select(Reminder.id).where(Reminder.status == ReminderStatus.PENDING.value, Reminder.next_attempt_at <= now)
        .order_by(Reminder.next_attempt_at, Reminder.id).limit(limit)))
