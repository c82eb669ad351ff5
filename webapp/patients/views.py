"""Patient pages (placeholders until the patient record is built)."""

from __future__ import annotations

from flask import abort
from flask_login import login_required

from webapp.patients import bp


@bp.route("/")
@login_required
def index() -> str:
    abort(501)


@bp.route("/<int:patient_id>")
@login_required
def show_patient(patient_id: int) -> str:
    abort(501)
