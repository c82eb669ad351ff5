"""The patient's one-time link: open the small form without an account, submit it once (CSRF-protected).

The page shows the questions only: no diagnosis, pathway or care-team name. A refused link (unknown,
expired, used, replaced, nothing left to fill) gets a plain French page and no patient data; the refusal
is audited by the service and committed here (the request wrapper rolls back every answer >= 400).
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.db import db
from engine.errors import InvalidInput, InvalidTransition
from engine.services.patient_links import (
    PatientLinkError,
    PatientLinkView,
    complete_via_patient_link,
    open_patient_link,
)
from webapp.forms.schema_form import field_messages, form_fields, form_values, parse_form, submitted_values
from webapp.patient_link import bp
from webapp.web import clock

GONE = ("expired", "used", "revoked", "closed")


def _refusal(exc: PatientLinkError) -> tuple[str, int]:
    db.session.commit()  # keep the service's audit of the refused link (nothing else is pending)
    messages = {
        "unknown": _("Ce lien n'est pas valide. Vérifiez qu'il a été copié en entier, ou contactez votre équipe "
                     "soignante."),
        "expired": _("Ce lien a expiré. Contactez votre équipe soignante pour en recevoir un nouveau."),
        "used": _("Ce lien a déjà été utilisé : il ne fonctionne qu'une fois. Vos réponses ont bien été "
                  "transmises."),
        "revoked": _("Ce lien a été remplacé par un plus récent : utilisez le dernier message reçu."),
        "closed": _("Il n'y a plus rien à remplir avec ce lien."),
    }
    status = 410 if exc.reason in GONE else 404
    return render_template("patient_link/refused.html", message=messages.get(exc.reason, messages["unknown"])), status


def _form_page(token: str, view: PatientLinkView, *, values: dict[str, str], errors: dict[str, str] | None = None,
               general: list[str] | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("patient_link/form.html", token=token, fields=form_fields(view.form_schema), values=values,
                           errors=errors or {}, general=general or [], expires_at=view.expires_at), status


@bp.route("/<token>")
def open_link(token: str) -> tuple[str, int]:
    try:
        view = open_patient_link(token, clock=clock())
    except PatientLinkError as exc:
        return _refusal(exc)
    return _form_page(token, view, values=form_values(view.form_schema))


def _reopen(token: str) -> PatientLinkView:
    """After a refused submission: roll it back, re-read the link (audited) and keep that read."""
    db.session.rollback()
    view = open_patient_link(token, clock=clock())
    db.session.commit()
    return view


@bp.route("/<token>", methods=["POST"])
def submit(token: str) -> Response | tuple[str, int]:
    try:
        view = open_patient_link(token, clock=clock())
    except PatientLinkError as exc:
        return _refusal(exc)
    typed = submitted_values(view.form_schema, request.form)
    parsed = parse_form(view.form_schema, request.form)
    if parsed.problems:
        return _form_page(token, _reopen(token), values=typed, errors=parsed.problems, status=422)
    data: dict[str, Any] = parsed.data
    try:
        complete_via_patient_link(token, data, clock=clock())
    except PatientLinkError as exc:  # spent meanwhile (another tab): the service audited the refusal
        return _refusal(exc)
    except InvalidInput as exc:
        per_field, general = field_messages(view.form_schema, exc.errors or {"-": str(exc)})
        return _form_page(token, _reopen(token), values=typed, errors=per_field, general=general, status=422)
    except InvalidTransition:
        db.session.rollback()
        general = [_("Vos réponses n'ont pas pu être enregistrées pour l'instant : réessayez plus tard ou "
                     "contactez votre équipe soignante.")]
        return _form_page(token, view, values=typed, general=general, status=409)
    return redirect(url_for("patient_link.thanks"))  # type: ignore[return-value]


@bp.route("/merci")
def thanks() -> str:
    return render_template("patient_link/thanks.html")
