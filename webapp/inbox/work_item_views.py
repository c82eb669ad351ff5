"""One work item: its page (patient, form, comments), claim / unclaim / hand back / comment, completion.

Every action is a POST that calls one engine service and redirects back with a flash message (PRG). A
refused action that the user can fix (empty reason, invalid form, stale form) re-renders the page with the
message next to the field and what was typed kept: 422 for bad input, 409 for a stale form.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import ConcurrencyConflict, InvalidInput, InvalidTransition
from engine.models import WorkItemKind
from engine.services.inbox import claim_work_item, comment_work_item, complete_work_item, release_work_item
from engine.services.work_item_view import WorkItemPage, describe_work_items, open_work_item, work_item_form
from webapp.auth.users import current_actor
from webapp.forms.schema_form import (
    answer_lines,
    field_messages,
    form_fields,
    form_values,
    parse_form,
    submitted_values,
)
from webapp.inbox import bp
from webapp.transaction import refuse_change
from webapp.web import clock, viewer_zone


def _render(page: WorkItemPage, *, status: int = 200, values: dict[str, str] | None = None,
            errors: dict[str, str] | None = None, general: list[str] | None = None, notice: str | None = None,
            keep_form: bool = False, typed: dict[str, str] | None = None) -> tuple[str, int]:
    schema = page.form_schema
    html = render_template(
        "inbox/work_item.html", page=page, item=page.item, fields=form_fields(schema),
        values=values if values is not None else form_values(schema, page.item.data, zone=viewer_zone()),
        errors=errors or {}, general=general or [], notice=notice, keep_form=keep_form, typed=typed or {},
        answers=answer_lines(schema, page.item.data), now=clock().now())
    return html, status


def _refused(work_item_id: int, status: int, **kwargs: Any) -> tuple[str, int]:
    """Re-render the page after a refused action: nothing of the action is kept; this read of the page
    is audited and committed by the request wrapper (see ``refuse_change``)."""
    refuse_change()
    page = open_work_item(work_item_id, actor=current_actor(), clock=clock())
    return _render(page, status=status, **kwargs)


def _back(work_item_id: int) -> Response:
    return redirect(url_for("inbox.show_work_item", work_item_id=work_item_id))  # type: ignore[return-value]


@bp.route("/items/<int:work_item_id>")
@login_required
def show_work_item(work_item_id: int) -> tuple[str, int]:
    return _render(open_work_item(work_item_id, actor=current_actor(), clock=clock()))


@bp.route("/items/<int:work_item_id>/claim", methods=["POST"])
@login_required
def claim(work_item_id: int) -> Response:
    claim_work_item(work_item_id, actor=current_actor(), clock=clock())
    flash(_("Vous avez pris cette tâche en charge."), "success")
    return _back(work_item_id)


@bp.route("/items/<int:work_item_id>/unclaim", methods=["POST"])
@login_required
def unclaim(work_item_id: int) -> Response:
    release_work_item(work_item_id, actor=current_actor(), clock=clock(), reason="")
    flash(_("La tâche est revenue dans la file de son rôle."), "success")
    return _back(work_item_id)


@bp.route("/items/<int:work_item_id>/hand-back", methods=["POST"])
@login_required
def hand_back(work_item_id: int) -> Response | tuple[str, int]:
    reason = request.form.get("reason", "")
    try:
        release_work_item(work_item_id, actor=current_actor(), clock=clock(), reason=reason.strip(), hand_back=True)
    except InvalidInput:  # no reason given: say so next to the field
        return _refused(work_item_id, 422, typed={"reason": reason},
                        errors={"reason": _("Indiquez pourquoi vous rendez cette tâche.")})
    flash(_("Tâche rendue à la file de son rôle."), "success")
    return _back(work_item_id)


@bp.route("/items/<int:work_item_id>/comment", methods=["POST"])
@login_required
def comment(work_item_id: int) -> Response | tuple[str, int]:
    body = request.form.get("body", "")
    try:
        comment_work_item(work_item_id, body.strip(), actor=current_actor(), clock=clock())
    except InvalidInput:
        return _refused(work_item_id, 422, errors={"body": _("Le commentaire est vide.")})
    flash(_("Commentaire ajouté."), "success")
    return _back(work_item_id)


def _expected_lock_version() -> int | None:
    raw = request.form.get("lock_version", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidInput("lock_version must be a whole number", {"lock_version": "nombre entier attendu"})
    return int(raw)


def _completed_message(opened: tuple[int, ...]) -> str:
    described = describe_work_items(opened)
    if not described:
        return _("Tâche terminée. Rien d'autre n'est à faire pour l'instant dans ce parcours.")
    listed = ", ".join(f"{title} ({role})" for title, role in described)
    return _("Tâche terminée. À faire ensuite : %(items)s.", items=listed)


@bp.route("/items/<int:work_item_id>/complete", methods=["POST"])
@login_required
def complete(work_item_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    form = work_item_form(work_item_id, actor=actor, clock=clock())
    expected = _expected_lock_version()
    typed = submitted_values(form.form_schema, request.form)
    if not form.is_open:  # completed meanwhile: say so first, whatever was typed
        return _stale(work_item_id, InvalidTransition(f"work item {work_item_id} is closed"), typed)
    if form.kind != WorkItemKind.TASK.value:
        note = request.form.get("note", "").strip()
        data: dict[str, Any] = {"note": note} if note else {}
    else:
        parsed = parse_form(form.form_schema, request.form, zone=viewer_zone())
        if parsed.problems:
            return _refused(work_item_id, 422, values=typed, errors=parsed.problems, keep_form=True)
        data = parsed.data
    try:
        outcome = complete_work_item(work_item_id, data, actor=actor, clock=clock(), expected_lock_version=expected)
    except InvalidInput as exc:
        per_field, general = field_messages(form.form_schema, exc.errors or {"-": str(exc)})
        return _refused(work_item_id, 422, values=typed, errors=per_field, general=general, keep_form=True)
    except InvalidTransition as exc:  # a stale form: completed by someone else, or the pathway moved on
        return _stale(work_item_id, exc, typed)
    flash(_completed_message(outcome.opened_work_items), "success")
    return redirect(url_for("inbox.index"))  # type: ignore[return-value]


def _stale(work_item_id: int, exc: InvalidTransition, typed: dict[str, str]) -> tuple[str, int]:
    refuse_change()
    page = open_work_item(work_item_id, actor=current_actor(), clock=clock())
    if not page.item.is_open:
        by = page.completed_by_name or _("quelqu'un d'autre")
        if page.item.status == "completed":
            notice = _("Cette tâche a été terminée entre-temps par %(who)s. Vos saisies n'ont pas été "
                       "enregistrées : elles sont conservées ci-dessous pour que vous puissiez les comparer.", who=by)
        else:
            notice = _("Cette tâche a été annulée entre-temps. Vos saisies n'ont pas été enregistrées : elles "
                       "sont conservées ci-dessous.")
    elif isinstance(exc, ConcurrencyConflict):
        notice = _("Le parcours de ce patient a changé depuis l'ouverture du formulaire (une autre tâche a été "
                   "enregistrée). Rien n'a été enregistré : vérifiez vos saisies ci-dessous puis validez à nouveau.")
    else:
        notice = _("Cette tâche ne peut pas être terminée pour l'instant (%(reason)s). Rien n'a été enregistré : "
                   "vos saisies sont conservées ci-dessous.", reason=str(exc))
    return _render(page, status=409, values=typed, notice=notice, keep_form=True)
