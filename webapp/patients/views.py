"""Patient pages: my patients (searchable), one patient's record, contact preferences."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import InvalidInput
from engine.services.delivery import set_contact_preferences
from engine.services.patient_records import get_patient, list_patients
from webapp.auth.users import current_actor
from webapp.patients import bp
from webapp.patients.forms import render_record
from webapp.web import clock


@bp.route("/")
@login_required
def index() -> str:
    search = request.args.get("q", "").strip()[:100]
    patients = list_patients(current_actor(), clock=clock(), search=search)
    return render_template("patients/index.html", patients=patients, search=search)


@bp.route("/<int:patient_id>")
@login_required
def show_patient(patient_id: int) -> tuple[str, int]:
    return render_record(patient_id)


@bp.route("/<int:patient_id>/preferences", methods=["POST"])
@login_required
def update_preferences(patient_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    patient = get_patient(actor, patient_id, action="patient.preferences", clock=clock())
    form = request.form
    channel = form.get("preferred_channel", patient.preferred_channel)
    opt_out = {c: form.get(f"opt_out_{c}") == "1" for c in ("sms", "email")}
    opt_out = {c: v for c, v in opt_out.items() if v != getattr(patient, f"opt_out_{c}")}
    errors: dict[str, str] = {}
    if channel not in ("sms", "email"):
        errors["preferred_channel"] = _("Canal inconnu : SMS ou e-mail.")
    if not errors:
        try:
            set_contact_preferences(patient.id, actor=actor, clock=clock(), preferred_channel=channel,
                                    opt_out=opt_out, quiet_hours=form.get("quiet_hours", "").strip())
        except InvalidInput:
            errors["quiet_hours"] = _("Plage horaire invalide (exemple : 21:00-08:00, vide = celle du site).")
    if errors:
        return render_record(patient_id, status=422, pref_errors=errors, pref_values=dict(form))
    flash(_("Préférences de contact enregistrées."), "success")
    return redirect(url_for("patients.show_patient", patient_id=patient_id))
