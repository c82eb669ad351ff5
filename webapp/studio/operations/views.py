"""Operations pages: running and in-error instances per version, the instances in error with retry / skip /
cancel, the cohort of a version on its diagram, the patients at one element. Thin: each calls one service.

An action the care manager can fix (no reason given) or that no longer applies (the instance is not in error
any more) shows the page again with the refusal (422 / 409), nothing of the action kept.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import InvalidInput, InvalidTransition
from engine.services.cohort import patients_at_element, version_cohort, version_summaries
from engine.services.diagrams import version_xml
from engine.services.incidents import cancel_failed_instance, list_incidents, retry_instance, skip_failed_step
from engine.types import Actor, StepOutcome
from webapp.studio.access import studio_actor
from webapp.studio.operations import bp
from webapp.transaction import refuse_change
from webapp.web import clock


def _index(actor: Actor, *, status: int = 200, refusal: str | None = None, refused_id: int | None = None,
           errors: dict[str, str] | None = None) -> tuple[str, int]:
    html = render_template("studio/operations/index.html", versions=version_summaries(actor),
                           incidents=list_incidents(actor, clock=clock()), refusal=refusal, refused_id=refused_id,
                           errors=errors or {}, now=clock().now())
    return html, status


@bp.route("/")
@login_required
def index() -> tuple[str, int]:
    return _index(studio_actor())


def _act(instance_id: int, action: Any) -> Response | tuple[str, int]:
    actor = studio_actor()
    try:
        result = action(actor)
    except InvalidInput as exc:
        refuse_change()
        return _index(actor, status=422, refusal=str(exc), refused_id=instance_id, errors=exc.errors)
    except InvalidTransition as exc:
        refuse_change()
        return _index(actor, status=409, refusal=str(exc), refused_id=instance_id)
    if isinstance(result, StepOutcome) and result.error_message:
        flash(_("L'instance %(id)s est de nouveau en erreur : %(message)s", id=instance_id,
                message=result.error_message), "warning")
    return redirect(url_for("operations.index"))  # type: ignore[return-value]


@bp.route("/instances/<int:instance_id>/retry", methods=["POST"])
@login_required
def retry(instance_id: int) -> Response | tuple[str, int]:
    def run(actor: Actor) -> StepOutcome:
        outcome = retry_instance(actor, instance_id, clock=clock())
        if outcome.error_message is None:
            flash(_("L'instance %(id)s a été relancée : elle est de nouveau active.", id=instance_id), "success")
        return outcome

    return _act(instance_id, run)


@bp.route("/instances/<int:instance_id>/skip", methods=["POST"])
@login_required
def skip(instance_id: int) -> Response | tuple[str, int]:
    def run(actor: Actor) -> StepOutcome:
        outcome = skip_failed_step(actor, instance_id, request.form.get("reason", ""), clock=clock())
        if outcome.error_message is None:
            flash(_("L'étape en échec de l'instance %(id)s a été passée.", id=instance_id), "success")
        return outcome

    return _act(instance_id, run)


@bp.route("/instances/<int:instance_id>/cancel", methods=["POST"])
@login_required
def cancel(instance_id: int) -> Response | tuple[str, int]:
    def run(actor: Actor) -> None:
        cancel_failed_instance(actor, instance_id, request.form.get("reason", ""), clock=clock())
        flash(_("L'instance %(id)s a été annulée.", id=instance_id), "success")

    return _act(instance_id, run)


@bp.route("/versions/<int:version_id>/")
@login_required
def cohort(version_id: int) -> str:
    result = version_cohort(studio_actor(), version_id, clock=clock())
    return render_template("studio/operations/cohort.html", cohort=result)


@bp.route("/versions/<int:version_id>/cohort.json")
@login_required
def cohort_json(version_id: int) -> dict[str, Any]:
    result = version_cohort(studio_actor(), version_id, clock=clock())
    return {"version_id": version_id, "xml": version_xml(version_id), "counts": result.counts()}


@bp.route("/versions/<int:version_id>/elements/<element_id>/")
@login_required
def element(version_id: int, element_id: str) -> str:
    listing = patients_at_element(studio_actor(), version_id, element_id, clock=clock())
    return render_template("studio/operations/element.html", listing=listing, now=clock().now())
