"""After sending: provider delivery receipts (deduplicated), inbound STOP and patient contact preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.clock import Clock
from engine.db import db
from engine.errors import InvalidInput
from engine.models import DeliveryReceipt, Patient, Reminder, ReminderStatus
from engine.notify.channels import CHANNELS
from engine.notify.quiet_hours import QuietHours
from engine.services import access, audit
from engine.services.people import find_patient
from engine.services.reminder_failures import give_up_channel, record_event
from engine.types import Actor

# Provider statuses (SMPP-style receipts and the words e-mail gateways use) mapped to ours.
DELIVERED = {"delivrd", "delivered", "delivery", "ok", "success"}
UNDELIVERED = {"undeliv", "undelivered", "expired", "blist", "rejectd", "rejected", "failed", "bounce", "bounced",
               "deleted", "undeliverable"}
INTERIM = {"submitd", "submitted", "accepted", "enroute", "buffered", "sent", "queued", "unknown"}


@dataclass(frozen=True)
class ReceiptOutcome:
    reminder_id: int | None
    status: str  # the reminder's status after the receipt
    duplicate: bool


def record_delivery_receipt(provider_id: str, provider_status: str, *, clock: Clock,
                            actor: Actor | None = None) -> ReceiptOutcome:
    """Apply a provider receipt to its reminder, once per (provider id, status) (flushes, audits).

    A receipt seen before changes nothing (``duplicate``). Delivered -> ``delivered``; undelivered -> the
    fallback channel, else ``failed`` (and a coordinator work item when critical); interim statuses are kept
    as ``provider_status`` only. Receipts may arrive late and out of order: ``delivered`` is final.
    """
    provider_id = (provider_id or "").strip()
    status = (provider_status or "").strip().lower()
    if not provider_id or not status:
        raise InvalidInput("a receipt needs a provider message id and a status")
    if status not in DELIVERED | UNDELIVERED | INTERIM:
        raise InvalidInput(f"unknown delivery status {provider_status!r}; expected one of DELIVRD, UNDELIV, "
                           f"EXPIRED, BLIST, REJECTD, SUBMITD (or delivered / failed)")
    now = clock.now()
    actor = actor or Actor.system("provider")
    reminder = db.session.scalar(select(Reminder).where(Reminder.provider_id == provider_id)
                                 .order_by(Reminder.id.desc()).limit(1))
    savepoint = db.session.begin_nested()
    try:
        db.session.add(DeliveryReceipt(provider_id=provider_id, provider_status=status, received_at=now,
                                       reminder_id=reminder.id if reminder is not None else None))
        db.session.flush()
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        return ReceiptOutcome(reminder.id if reminder else None, reminder.status if reminder else "unknown", True)
    if reminder is None:
        audit.record(actor, "reminder.receipt_unmatched", at=now, outcome="error", object_type="provider_message",
                     object_id=provider_id[:64], details={"status": status})
        return ReceiptOutcome(None, "unknown", False)
    reminder.provider_status = status
    record_event(reminder, "reminder.receipt", now, provider_status=status)
    if status in DELIVERED and reminder.status in (ReminderStatus.SENT.value, ReminderStatus.FAILED.value):
        reminder.status = ReminderStatus.DELIVERED.value
        reminder.delivered_at = now
    elif status in UNDELIVERED and reminder.status == ReminderStatus.SENT.value:
        give_up_channel(reminder, now, reason=f"provider reported {status}")
    db.session.flush()
    return ReceiptOutcome(reminder.id, reminder.status, False)


def _normalise_phone(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit() or ch == "+")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("0") and len(digits) == 10:  # a French national number
        digits = "+33" + digits[1:]
    return digits


def handle_inbound_stop(phone_or_address: str, *, clock: Clock, keyword: str = "STOP") -> list[int]:
    """An inbound STOP (SMS reply or e-mail): opt the sender's patients out of that channel (flushes, audits).

    Pending reminders on that channel move to the other channel when the patient has one, else they are
    cancelled at dispatch. Returns the patient ids opted out (none: an unknown sender, audited).
    """
    sender = (phone_or_address or "").strip()
    if not sender:
        raise InvalidInput("STOP needs the sender's phone number or e-mail address")
    if keyword.strip().upper() not in ("STOP", "STOP SMS", "ARRET", "ARRÊT", "UNSUBSCRIBE"):
        raise InvalidInput(f"{keyword!r} is not an opt-out keyword (STOP, ARRET)")
    now = clock.now()
    actor = Actor.system("inbound")
    if "@" in sender:
        channel = "email"
        patients = list(db.session.scalars(select(Patient).where(Patient.email.ilike(sender))))
    else:
        channel = "sms"
        wanted = _normalise_phone(sender)
        candidates = db.session.scalars(select(Patient).where(Patient.phone.is_not(None),
                                                              Patient.phone.like(f"%{wanted[-9:]}")))
        patients = [p for p in candidates if _normalise_phone(p.phone or "") == wanted]
    if not patients:
        audit.record(actor, "patient.opt_out_unmatched", at=now, outcome="error", details={"channel": channel})
        return []
    for patient in patients:
        _set_opt_out(patient, channel, True, actor=actor, now=now, source="inbound STOP")
    db.session.flush()
    return [p.id for p in patients]


def _set_opt_out(patient: Patient, channel: str, value: bool, *, actor: Actor, now: datetime, source: str) -> None:
    setattr(patient, f"opt_out_{channel}", value)
    audit.record(actor, "patient.opt_out" if value else "patient.opt_in", at=now, patient_id=patient.id,
                 object_type="patient", object_id=patient.id, details={"channel": channel, "source": source})


def set_contact_preferences(patient_ref: str | int, *, actor: Actor, clock: Clock, preferred_channel: str | None = None,
                            opt_out: dict[str, bool] | None = None, quiet_hours: str | None = None,
                            phone: str | None = None, email: str | None = None) -> Patient:
    """Change a patient's contact preferences (care team or operator; flushes, audits)."""
    patient = find_patient(patient_ref)
    access.require_patient_access(actor, patient.id, action="patient.preferences", clock=clock)
    now = clock.now()
    changed: list[str] = []
    if preferred_channel is not None:
        if preferred_channel not in CHANNELS:
            raise InvalidInput("preferred channel must be 'sms' or 'email'")
        patient.preferred_channel = preferred_channel
        changed.append("preferred_channel")
    for channel, value in (opt_out or {}).items():
        if channel not in CHANNELS:
            raise InvalidInput(f"unknown channel {channel!r}: sms or email")
        _set_opt_out(patient, channel, value, actor=actor, now=now, source="preferences")
    if quiet_hours is not None:
        QuietHours.parse(quiet_hours)  # refuse a malformed window now, not at dispatch
        patient.quiet_hours = quiet_hours or None
        changed.append("quiet_hours")
    if phone is not None:
        patient.phone = phone or None
        changed.append("phone")
    if email is not None:
        if email and "@" not in email:
            raise InvalidInput(f"{email!r} is not an e-mail address")
        patient.email = email or None
        changed.append("email")
    if changed:
        audit.record(actor, "patient.preferences_changed", at=now, patient_id=patient.id, object_type="patient",
                     object_id=patient.id, details={"fields": changed})
    db.session.flush()
    return patient
