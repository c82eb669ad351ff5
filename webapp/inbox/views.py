"""The inbox list page: my open work items with filters, counts, sorting, pages, and saved filters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import InvalidInput
from engine.services.inbox_listing import (
    FILTER_KEYS,
    InboxListQuery,
    list_inbox_page,
    listing_query,
    parse_filter_params,
)
from engine.services.roles import ROLE_CATALOGUE
from engine.services.saved_filters import delete_saved_filter, list_saved_filters, save_filter
from webapp.auth.users import current_actor
from webapp.inbox import bp
from webapp.web import clock, viewer_zone

MAX_PAGE = 100_000
ROLE_LABELS = {code: (fr, en) for code, fr, en, _snomed in ROLE_CATALOGUE}


def _priority_labels() -> dict[str, str]:
    return {"stat": _("Immédiat"), "asap": _("Dès que possible"), "urgent": _("Urgent"), "routine": _("Routine")}


def _role_labeller() -> Callable[[str], str]:
    """``role_label(code)`` in this request's language (the locale looked up once, not once per row)."""
    english = str(get_locale()) == "en"
    labels = {code: en if english else fr for code, (fr, en) in ROLE_LABELS.items()}
    return lambda code: labels.get(code, code)


def _id_url(endpoint: str, key: str) -> Callable[[int], str]:
    """``url(id)`` for one endpoint taking one integer: the URL is built once and the id put in by string
    replacement (a page of 25 rows asked ``url_for`` for 75 such links, ~25 µs each)."""
    placeholder = 987_654_321_123
    pattern = url_for(endpoint, **{key: placeholder})
    head, tail = pattern.split(str(placeholder), 1)
    return lambda value: f"{head}{int(value)}{tail}"


def _ignored(key: str, value: str) -> str:
    if key == "window":
        return _("Filtre « %(value)s » inconnu : toutes les tâches sont affichées.", value=value)
    if key == "sort":
        return _("Tri « %(value)s » inconnu : les tâches sont triées par échéance.", value=value)
    if key == "patient":
        return _("Patient « %(value)s » non valide : ce filtre est ignoré.", value=value)
    return _("Parcours « %(value)s » non valide : ce filtre est ignoré.", value=value)


def _query_from(args: Mapping[str, str]) -> tuple[InboxListQuery, list[str]]:
    """The listing asked for by the query string; bad values are ignored and said so (never a 500)."""
    clean, rejected = parse_filter_params(args)
    notices = [_ignored(key, value) for key, value in rejected.items()]
    page = 1
    raw_page = (args.get("page") or "").strip()
    if raw_page:
        if raw_page.isdigit() and 1 <= int(raw_page) <= MAX_PAGE:
            page = int(raw_page)
        else:
            notices.append(_("Page « %(value)s » non valide : première page affichée.", value=raw_page[:20]))
    per_page = int(current_app.config.get("PARCOURS_INBOX_PAGE_SIZE", 25))
    return listing_query(clean, page=page, per_page=per_page), notices


def _link_maker(query: InboxListQuery) -> Callable[..., str]:
    """``link(window="overdue")``: this listing's URL with some parameters changed (defaults left out)."""
    defaults = {"window": "all", "sort": "due", "page": 1}

    def link(**changes: Any) -> str:
        params: dict[str, Any] = {**query.params(), "page": query.page, **changes}
        if changes.keys() & set(FILTER_KEYS) and "page" not in changes:
            params["page"] = 1  # another filter starts at its first page
        return url_for("inbox.index", **{k: v for k, v in params.items()
                                         if v is not None and v != "" and defaults.get(k) != v})

    return link


@bp.route("/")
@login_required
def index() -> str:
    query, notices = _query_from(request.args)
    actor = current_actor()
    page = list_inbox_page(actor, query, clock=clock(), zone=viewer_zone())
    if query.page > page.query.page:
        notices.append(_("Il n'y a que %(pages)d page(s) : dernière page affichée.", pages=page.pages))
    urls = {"patient": _id_url("patients.show_patient", "patient_id"),
            "item": _id_url("inbox.show_work_item", "work_item_id"),
            "claim": _id_url("inbox.claim", "work_item_id"), "unclaim": _id_url("inbox.unclaim", "work_item_id")}
    return render_template("inbox/index.html", page=page, notices=notices, saved_filters=list_saved_filters(actor),
                           link=_link_maker(page.query), role_label=_role_labeller(), priorities=_priority_labels(),
                           urls=urls, now=clock().now())


def _save_problems(exc: InvalidInput) -> dict[str, str]:
    messages = {"name": _("Donnez un nom au filtre (120 caractères au plus)."),
                "shared": _("Vous n'êtes rattaché(e) à aucun site : ce filtre ne peut pas être partagé."),
                "too many": _("Vous avez déjà 50 filtres enregistrés : supprimez-en un d'abord.")}
    problems: dict[str, str] = {}
    for key, reason in exc.errors.items():
        if reason == "too many":
            problems["name"] = messages["too many"]
        elif key in messages:
            problems[key] = messages[key]
        else:
            problems["params"] = _("Ce filtre contient des paramètres inconnus ou non valides : %(keys)s.",
                                   keys=", ".join(sorted(k for k in exc.errors if k not in messages)))
    return problems or {"params": _("Ce filtre n'est pas valide.")}


@bp.route("/filters", methods=["POST"])
@login_required
def save_current_filter() -> Response | tuple[str, int]:
    """Save the filter shown (its parameters come back as hidden fields) under a name."""
    form = request.form
    params = {k: v for k, v in form.items() if k not in ("csrf_token", "name", "shared") and v != ""}
    try:
        saved = save_filter(current_actor(), form.get("name", ""), params, shared=form.get("shared") == "1",
                            clock=clock())
    except InvalidInput as exc:
        # No listing on this answer: the refusal rolls back, and a listing must never go unaudited.
        return render_template("inbox/filter_refused.html", problems=_save_problems(exc), name=form.get("name", ""),
                               params={k: v for k, v in params.items() if k in FILTER_KEYS},
                               shared=form.get("shared") == "1"), 422
    flash(_("Filtre « %(name)s » enregistré.", name=saved.name), "success")
    return redirect(url_for("inbox.index", **saved.params))


@bp.route("/filters/<int:filter_id>/delete", methods=["POST"])
@login_required
def delete_filter(filter_id: int) -> Response:
    """Delete one of my saved filters (someone else's: 403; one I cannot see: 404)."""
    delete_saved_filter(current_actor(), filter_id, clock=clock())
    flash(_("Filtre supprimé."), "success")
    return redirect(url_for("inbox.index"))
