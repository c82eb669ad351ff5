"""Care team forms on the patient record: add a professional for a role and period, end a membership."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import InvalidInput
from engine.services import care_teams
from engine.services.care_teams import MembershipConflict, add_member, end_member
from engine.services.patient_records import get_patient
from webapp.auth.users import current_actor
from webapp.patients import bp
from webapp.patients.forms import parse_period, render_record
from webapp.web import clock


def _translated(message: str) -> str:
    """The care team service's field errors, in the interface language."""
    return {
        care_teams.UNKNOWN_PROFESSIONAL: _("Professionnel inconnu ou inactif."),
        care_teams.UNKNOWN_ROLE: _("Rôle inconnu."),
        care_teams.ROLE_NOT_HELD: _("Ce professionnel n'a pas ce rôle."),
        care_teams.EMPTY_PERIOD: _("La fin doit être après le début."),
        care_teams.ALREADY_MEMBER: _("Déjà membre de l'équipe pour ce rôle sur cette période."),
    }.get(message, message)


@bp.route("/<int:patient_id>/care-team", methods=["POST"])
@login_required
def add_care_team_member(patient_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    get_patient(actor, patient_id, action="care_team.member_added", clock=clock())  # 404 before any validation
    form = request.form
    start, end, errors = parse_period(form.get("start", ""), form.get("end", ""))
    raw_pro = form.get("professional_id", "").strip()
    professional_id = int(raw_pro) if raw_pro.isdigit() else None
    if professional_id is None:
        errors["professional"] = _("Choisissez un professionnel.")
    if not form.get("role", "").strip():
        errors["role"] = _("Choisissez un rôle.")
    status = 422
    if not errors and start is not None:
        try:
            add_member(patient_id, professional_id, form["role"].strip(), start=start, end=end, actor=actor,
                       clock=clock())
        except (InvalidInput, MembershipConflict) as exc:
            status = 409 if isinstance(exc, MembershipConflict) else 422
            errors = {field: _translated(message) for field, message in (exc.errors or {"professional": str(exc)}
                                                                          ).items()}
    if errors:
        return render_record(patient_id, status=status, team_errors=errors, team_values=dict(form))
    flash(_("Membre ajouté à l'équipe de soins."), "success")
    return redirect(url_for("patients.show_patient", patient_id=patient_id) + "#equipe")


@bp.route("/<int:patient_id>/care-team/<int:member_id>/end", methods=["POST"])
@login_required
def end_care_team_member(patient_id: int, member_id: int) -> Response:
    end_member(patient_id, member_id, actor=current_actor(), clock=clock())
    flash(_("Appartenance à l'équipe de soins terminée."), "success")
    return redirect(url_for("patients.show_patient", patient_id=patient_id) + "#equipe")
