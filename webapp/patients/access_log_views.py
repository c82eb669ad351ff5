"""A patient's access log, for the coordinators of the patient's site."""

from __future__ import annotations

from flask import render_template
from flask_login import login_required

from engine.services.coordination import patient_access_log
from engine.services.patient_records import get_patient
from webapp.auth.users import current_actor
from webapp.patients import bp
from webapp.web import clock, int_arg


@bp.route("/<int:patient_id>/access-log")
@login_required
def access_log(patient_id: int) -> str:
    actor = current_actor()
    page = patient_access_log(actor, patient_id, clock=clock(), page=int_arg("page", 1), per_page=50)
    patient = get_patient(actor, patient_id, action="patient.access_log_viewed", clock=clock())
    return render_template("patients/access_log.html", patient=patient, log=page)
