"""Enrol the patient on a pathway from the record, with the anchor dates the pathway needs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import InvalidInput, InvalidTransition
from engine.services.instances import enrol_patient
from engine.services.patient_records import enrol_choices, get_patient
from webapp.auth.users import current_actor
from webapp.patients import bp
from webapp.patients.forms import parse_day_or_moment, render_record
from webapp.web import clock


@bp.route("/<int:patient_id>/enrol", methods=["POST"])
@login_required
def enrol(patient_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    get_patient(actor, patient_id, action="instance.enrol", clock=clock())  # 404 before any validation
    key = request.form.get("pathway", "").strip()
    choice = next((c for c in enrol_choices() if c.key == key), None)
    errors: dict[str, str] = {}
    context: dict[str, Any] = {}
    if choice is None:
        errors["pathway"] = _("Parcours inconnu.")
    else:
        for anchor in choice.anchors:
            raw = request.form.get(anchor, "").strip()
            if not raw:
                errors[anchor] = _("Date obligatoire.")
                continue
            try:
                value: date | datetime = parse_day_or_moment(raw)
            except ValueError:
                errors[anchor] = _("Date invalide (attendu : AAAA-MM-JJ).")
                continue
            context[anchor] = value.isoformat()
    if not errors:
        try:
            outcome = enrol_patient(patient_id, key, context=context, actor=actor, clock=clock())
        except (InvalidInput, InvalidTransition) as exc:
            conflict = isinstance(exc, InvalidTransition)  # already on this pathway (running, suspended or in error)
            errors["pathway"] = _("Le patient suit déjà ce parcours.") if conflict else str(exc)
            status = 409 if conflict else 422
            return render_record(patient_id, status=status, enrol_key=key, enrol_errors=errors,
                                 enrol_values=dict(request.form))
        if outcome.error_message:
            flash(_("Le parcours s'est arrêté en erreur : %(msg)s", msg=outcome.error_message), "error")
        else:
            flash(_("Patient inscrit sur le parcours."), "success")
        return redirect(url_for("patients.show_instance", patient_id=patient_id, instance_id=outcome.instance_id))
    return render_record(patient_id, status=422, enrol_key=key, enrol_errors=errors, enrol_values=dict(request.form))
