"""What to do with a due reminder: send it now (to which address, by which channel), wait, or cancel it.

Pure decisions on rows already loaded: patient opt-outs and contact details, quiet hours in the recipient's
timezone, an appointment already over (never sent late), a work item already closed, a cancelled pathway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.db import db
from engine.errors import InvalidInput
from engine.models import InstanceStatus, PathwayInstance, Patient, Professional, Reminder, WorkItem
from engine.notify.channels import CHANNELS
from engine.notify.quiet_hours import QuietHours
from engine.notify.settings import NotifySettings

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Decision:
    action: str  # send, defer, cancel
    channel: str | None = None
    address: str | None = None
    until: datetime | None = None  # defer: when the quiet window opens
    reason: str | None = None  # cancel / defer: why (stored on the row, audited)


def zone_of(patient: Patient | None) -> ZoneInfo:
    try:
        return ZoneInfo((patient.timezone if patient is not None else None) or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        return PARIS


def other_channel(channel: str) -> str:
    return "email" if channel == "sms" else "sms"


def patient_address(patient: Patient, channel: str) -> str | None:
    """The patient's address on ``channel``, or None when missing or opted out."""
    if channel == "sms":
        return None if patient.opt_out_sms else (patient.phone or None)
    return None if patient.opt_out_email else (patient.email or None)


def professional_address(pro: Professional, channel: str) -> str | None:
    return (pro.phone if channel == "sms" else pro.email) or None


def appointment_over(appointment_at: datetime | None, now: datetime, zone: ZoneInfo) -> bool:
    """Past the appointment: its time, or the end of its day when only the day is known (midnight)."""
    if appointment_at is None:
        return False
    local = appointment_at.astimezone(zone)
    if local.hour == 0 and local.minute == 0:
        end_of_day = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
        return now >= end_of_day
    return now >= appointment_at


def quiet_hours_for(patient: Patient | None, settings: NotifySettings) -> QuietHours:
    if patient is not None and patient.quiet_hours:
        try:
            return QuietHours.parse(patient.quiet_hours, sundays=settings.quiet_hours.sundays)
        except InvalidInput:
            return settings.quiet_hours
    return settings.quiet_hours


def _channel_and_address(reminder: Reminder, patient: Patient) -> tuple[str | None, str | None, str | None]:
    """(channel, address, reason when none): the planned channel, else the other one (opt-out, no contact)."""
    if reminder.recipient == "patient":
        first = reminder.channel if reminder.channel in CHANNELS else patient.preferred_channel or "sms"
        for channel in (first, other_channel(first)):
            address = patient_address(patient, channel)
            if address:
                return channel, address, None
        opted_out = (patient.opt_out_sms or not patient.phone) and (patient.opt_out_email or not patient.email)
        reason = "opted_out" if opted_out and (patient.opt_out_sms or patient.opt_out_email) else "no_contact"
        return None, None, reason
    pro = db.session.get(Professional, reminder.professional_id) if reminder.professional_id else None
    if pro is None or not pro.active:
        return None, None, "no_recipient"
    first = reminder.channel if reminder.channel in CHANNELS else "email"
    for channel in (first, other_channel(first)):
        address = professional_address(pro, channel)
        if address:
            return channel, address, None
    return None, None, "no_contact"


def decide(reminder: Reminder, now: datetime, settings: NotifySettings) -> Decision:
    """The decision for a claimed reminder at ``now``."""
    patient = db.session.get(Patient, reminder.patient_id)
    if patient is None:
        return Decision("cancel", reason="no_patient")
    if reminder.instance_id is not None:
        instance = db.session.get(PathwayInstance, reminder.instance_id)
        if instance is not None and instance.status == InstanceStatus.CANCELLED.value:
            return Decision("cancel", reason="pathway_cancelled")
    if reminder.work_item_id is not None:
        item = db.session.get(WorkItem, reminder.work_item_id)
        if item is None or not item.is_open:
            return Decision("cancel", reason="work_item_closed")
    zone = zone_of(patient) if reminder.recipient == "patient" else PARIS
    if appointment_over(reminder.appointment_at, now, zone):
        return Decision("cancel", reason="appointment_passed")
    channel, address, reason = _channel_and_address(reminder, patient)
    if channel is None:
        return Decision("cancel", reason=reason)
    opens = quiet_hours_for(patient if reminder.recipient == "patient" else None, settings).next_allowed(now, zone)
    if opens > now:
        if appointment_over(reminder.appointment_at, opens, zone):
            return Decision("cancel", reason="appointment_passed")  # would only go after the appointment
        return Decision("defer", until=opens, reason="quiet_hours")
    return Decision("send", channel=channel, address=address)
