"""Form parsing and the record page re-rendered with field errors (422), shared by the patient views."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import render_template
from flask_babel import gettext as _

from engine.services.care_teams import candidate_professionals, role_labels
from engine.services.patient_records import get_patient_record
from engine.services.patient_timeline import patient_timeline
from webapp.auth.users import current_actor
from webapp.transaction import refuse_change
from webapp.web import clock, viewer_zone


def parse_day_or_moment(raw: str) -> date | datetime:
    """A date (2026-12-07) or a local date-time (2026-12-07T08:30) typed in a form; ValueError otherwise."""
    raw = (raw or "").strip()
    if len(raw) == 10:
        return date.fromisoformat(raw)
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=viewer_zone())


def day_start(value: date) -> datetime:
    """Midnight of ``value`` in the viewer's timezone."""
    return datetime.combine(value, time(0, 0), viewer_zone())


def parse_period(start_raw: str, end_raw: str) -> tuple[datetime | None, datetime | None, dict[str, str]]:
    """A membership period from two date fields: from the start day's midnight to the end of the end day."""
    errors: dict[str, str] = {}
    start = end = None
    try:
        start = day_start(date.fromisoformat(start_raw.strip())) if start_raw.strip() else None
        if start is None:
            errors["start"] = _("Date de début obligatoire.")
    except ValueError:
        errors["start"] = _("Date invalide (attendu : AAAA-MM-JJ).")
    if end_raw.strip():
        try:
            end = day_start(date.fromisoformat(end_raw.strip()) + timedelta(days=1))
        except ValueError:
            errors["end"] = _("Date invalide (attendu : AAAA-MM-JJ).")
    return start, end, errors


# Field errors from the engine services are in French already (care_teams); keys map to the form's fields.
def render_record(patient_id: int, *, status: int = 200, **forms: Any) -> tuple[str, int]:
    """The patient record page; ``forms``: errors / values of a form that was refused (team, enrol, prefs).
    A refusal (status >= 400) drops what the refused change wrote and keeps this audited read of the page."""
    if status >= 400:
        refuse_change()
    actor = current_actor()
    record = get_patient_record(actor, patient_id, clock=clock())
    timeline = patient_timeline(actor, patient_id, clock=clock())
    return render_template("patients/show.html", record=record, patient=record.patient, timeline=timeline,
                           professionals=candidate_professionals(record.patient.site), roles=role_labels(),
                           now=clock().now(), today=clock().now().astimezone(viewer_zone()).date(),
                           **forms), status
