"""The text of a reminder: neutral template values (date, time, place, how to cancel, a one-time link), rendered.

Only these values reach a template. The pathway, the work item title, the diagnosis and the patient's
identifiers are never passed, so a template cannot leak them even if edited carelessly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.db import db
from engine.models import Patient, Reminder, WorkItem
from engine.notify.settings import NotifySettings
from engine.notify.templates import RenderedMessage, format_date, format_time, render_message
from engine.services.patient_links import issue_patient_link
from engine.services.reminder_rules import PARIS, zone_of

DEFAULT_PLACE = {"fr": "à votre lieu de soins habituel", "en": "at your usual care practice"}


def _moment(reminder: Reminder, item: WorkItem | None) -> datetime:
    """The date a message speaks of: the appointment, the work item's due date, else the sending day."""
    if reminder.appointment_at is not None:
        return reminder.appointment_at
    if item is not None and item.due_at is not None:
        return item.due_at
    return reminder.send_at


def template_params(reminder: Reminder, *, now: datetime, settings: NotifySettings,
                    language: str) -> tuple[dict[str, Any], str | None]:
    """The values a template sees, and the one-time link token when one was issued (flushes a link row)."""
    patient = db.session.get(Patient, reminder.patient_id)
    item = db.session.get(WorkItem, reminder.work_item_id) if reminder.work_item_id else None
    zone = zone_of(patient) if reminder.recipient == "patient" else PARIS
    moment = _moment(reminder, item)
    params: dict[str, Any] = {
        "date": format_date(moment, zone, language),
        "time": format_time(moment, zone, language),
        "place": (patient.site if patient is not None and patient.site else DEFAULT_PLACE.get(language, "")),
        "cancel_contact": settings.cancel_contact,
        "link": None,
        "link_expires": None,
    }
    token = None
    if item is not None and reminder.recipient == "patient" and item.role_code == "patient":
        token, link = issue_patient_link(item, now=now, lifetime=settings.patient_link_lifetime,
                                         reminder_id=reminder.id)
        params["link"] = f"{settings.public_url}/p/{token}"
        params["link_expires"] = format_date(link.expires_at, zone, language)
    elif item is not None:
        params["link"] = f"{settings.public_url}/inbox/work-items/{item.id}"
    return params, token


def recipient_language(reminder: Reminder) -> str:
    if reminder.recipient == "patient":
        patient = db.session.get(Patient, reminder.patient_id)
        return (patient.language if patient is not None else None) or "fr"
    return "fr"  # professionals: the French texts (no language on their record yet)


def build_message(reminder: Reminder, *, now: datetime, settings: NotifySettings) -> tuple[RenderedMessage, str]:
    """The rendered message, and the text to keep on the row (the link's token masked)."""
    language = recipient_language(reminder)
    params, token = template_params(reminder, now=now, settings=settings, language=language)
    message = render_message(settings.templates_dir, reminder.template, language, params)
    stored = message.body if token is None else message.body.replace(token, token[:4] + "…")
    return message, stored
