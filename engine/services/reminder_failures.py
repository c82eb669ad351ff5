"""When a reminder cannot be delivered: retry with backoff, then the other channel, then give up visibly.

After ``max_attempts`` on a channel (or at once on a permanent error) the reminder moves to the other
channel (sms <-> email) if the recipient has a usable address there; when that fails too it is
``failed``, and a critical one opens a coordinator work item (once: a unique key guards it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.db import db
from engine.models import (
    PathwayInstance,
    Patient,
    Professional,
    Reminder,
    ReminderStatus,
    WorkItem,
    WorkItemKind,
    WorkItemStatus,
)
from engine.notify.channels import DeliveryError
from engine.notify.settings import NotifySettings
from engine.services import audit
from engine.services.pathways import compiled_for
from engine.services.people import care_team_assignee
from engine.services.reminder_rules import other_channel, patient_address, professional_address
from engine.types import Actor

DISPATCHER = Actor.system("reminders")
ALERT_DUE = timedelta(hours=4)


def record_event(reminder: Reminder, action: str, now: datetime, outcome: str = "success", **details: object) -> None:
    """Audit one step of a reminder's delivery (the dispatcher is the actor)."""
    audit.record(DISPATCHER, action, at=now, patient_id=reminder.patient_id, instance_id=reminder.instance_id,
                 object_type="reminder", object_id=reminder.id, outcome=outcome,
                 details={"template": reminder.template, "recipient": reminder.recipient, **details})


def is_critical(reminder: Reminder) -> bool:
    """A reminder is critical when its send task says so (property ``critical`` = true)."""
    if reminder.instance_id is None or reminder.element_id is None:
        return False
    instance = db.session.get(PathwayInstance, reminder.instance_id)
    if instance is None:
        return False
    element = compiled_for(instance.version).element(reminder.element_id)
    value = (element.properties.get("critical", "") if element is not None else "").strip().lower()
    return value in ("true", "1", "yes", "oui")


def _fallback_address(reminder: Reminder) -> str | None:
    channel = other_channel(reminder.channel)
    if reminder.recipient == "patient":
        patient = db.session.get(Patient, reminder.patient_id)
        return patient_address(patient, channel) if patient is not None else None
    pro = db.session.get(Professional, reminder.professional_id) if reminder.professional_id else None
    return professional_address(pro, channel) if pro is not None else None


def handle_failure(reminder: Reminder, error: DeliveryError, now: datetime, settings: NotifySettings) -> str:
    """Record a failed attempt and choose what comes next (flushes, audits). Returns retrying or failed."""
    reminder.lease_until = None
    reminder.error = str(error)[:2000]
    record_event(reminder, "reminder.attempt_failed", now, outcome="error", channel=reminder.channel,
            attempt=reminder.attempts, transient=error.transient, error=str(error)[:300])
    if error.transient and reminder.channel_attempts < settings.max_attempts:
        reminder.status = ReminderStatus.PENDING.value
        reminder.next_attempt_at = now + settings.retry_after(reminder.channel_attempts)
        reminder.status_reason = "retry"
        return "retrying"
    return give_up_channel(reminder, now, reason=str(error))


def give_up_channel(reminder: Reminder, now: datetime, *, reason: str) -> str:
    """The current channel is exhausted (or the provider reported it undelivered): fallback, else failed."""
    if reminder.fallback_from is None and _fallback_address(reminder):
        reminder.fallback_from = reminder.channel
        reminder.channel = other_channel(reminder.channel)
        reminder.channel_attempts = 0
        reminder.status = ReminderStatus.PENDING.value
        reminder.next_attempt_at = now
        reminder.status_reason = "fallback"
        record_event(reminder, "reminder.fallback", now, channel_from=reminder.fallback_from,
                     channel_to=reminder.channel)
        return "retrying"
    reminder.status = ReminderStatus.FAILED.value
    reminder.status_reason = "undelivered"
    reminder.error = reason[:2000]
    record_event(reminder, "reminder.failed", now, outcome="error", error=reason[:300])
    if is_critical(reminder):
        open_alert_work_item(reminder, now)
    return "failed"


def open_alert_work_item(reminder: Reminder, now: datetime) -> WorkItem | None:
    """A coordinator work item "reach the patient" for an undelivered critical reminder, at most once."""
    key = f"reminder:{reminder.id}:undelivered"
    existing = db.session.scalar(select(WorkItem).where(WorkItem.escalation_key == key))
    if existing is not None or reminder.instance_id is None:
        return existing
    item = WorkItem(
        instance_id=reminder.instance_id, patient_id=reminder.patient_id, spiff_task_id=f"alert-{reminder.id}",
        element_id=reminder.element_id or "reminder", title="Rappel critique non délivré : joindre le patient",
        role_code="coordinateur", assignee_id=care_team_assignee(reminder.patient_id, "coordinateur", now),
        status=WorkItemStatus.OPEN.value, priority="urgent", due_at=now + ALERT_DUE, created_at=now,
        kind=WorkItemKind.ALERT.value, escalation_key=key,
        data={"reminder_id": reminder.id, "template": reminder.template},
    )
    savepoint = db.session.begin_nested()
    try:
        db.session.add(item)
        db.session.flush()
        savepoint.commit()
    except IntegrityError:  # another dispatcher opened it first
        savepoint.rollback()
        return db.session.scalar(select(WorkItem).where(WorkItem.escalation_key == key))
    audit.record(DISPATCHER, "work_item.opened", at=now, patient_id=reminder.patient_id,
                 instance_id=reminder.instance_id, object_type="work_item", object_id=item.id,
                 details={"kind": item.kind, "reminder_id": reminder.id, "role": item.role_code})
    return item
