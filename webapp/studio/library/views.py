"""Library pages: the pathways list, a pathway's versions, one version (diagram, steps), download, differences."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from engine.models import PathwayVersion
from engine.services.diagrams import version_xml
from engine.services.pathway_library import library_version, pathway_history, pathway_library, version_outline
from engine.services.version_diff import diff_versions
from webapp.studio.access import studio_actor
from webapp.studio.library import bp


@bp.route("/")
@login_required
def index() -> str:
    pathways = pathway_library(studio_actor())
    return render_template("studio/library/index.html", pathways=pathways)


@bp.route("/pathways/<key>/")
@login_required
def pathway(key: str) -> str:
    history = pathway_history(studio_actor(), key)
    return render_template("studio/library/pathway.html", pathway=history)


@bp.route("/pathways/<key>/v<int:number>/")
@login_required
def version(key: str, number: int) -> str:
    actor = studio_actor()
    found = library_version(actor, key, number)
    history = pathway_history(actor, key)
    return render_template("studio/library/version.html", version=found, entry=history.version(number),
                           pathway=history, outline=version_outline(found))


@bp.route("/pathways/<key>/v<int:number>/diagram.json")
@login_required
def version_diagram(key: str, number: int) -> dict[str, Any]:
    found = library_version(studio_actor(), key, number)
    return {"xml": version_xml(found.id), "markers": {}}


@bp.route("/pathways/<key>/v<int:number>.bpmn")
@login_required
def download(key: str, number: int) -> Response:
    found = library_version(studio_actor(), key, number)
    return Response(version_xml(found.id), mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{found.key}-v{found.version}.bpmn"'})


def _version_number(name: str) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        abort(400, _("Indiquez les deux versions à comparer (paramètres « from » et « to »)."))
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        abort(400, _("« %(name)s » doit être un numéro de version (1, 2, 3…), pas « %(value)s ».",
                     name=name, value=raw[:20]))
    return int(raw)


def _compared(key: str) -> tuple[PathwayVersion, PathwayVersion]:
    actor = studio_actor()
    old_number, new_number = _version_number("from"), _version_number("to")
    if old_number == new_number:
        abort(400, _("Choisissez deux versions différentes (ici v%(n)s deux fois).", n=old_number))
    return library_version(actor, key, old_number), library_version(actor, key, new_number)


@bp.route("/pathways/<key>/diff")
@login_required
def diff(key: str) -> str:
    old, new = _compared(key)
    history = pathway_history(studio_actor(), key)
    return render_template("studio/library/diff.html", pathway=history, old=old, new=new,
                           diff=diff_versions(old, new))


@bp.route("/pathways/<key>/diff.json")
@login_required
def diff_diagram(key: str) -> dict[str, Any]:
    """The newer version's diagram with the added and changed elements to mark."""
    old, new = _compared(key)
    markers = diff_versions(old, new).diagram_markers()
    return {"xml": version_xml(new.id), "markers": {f"diff-{k}": v for k, v in markers.items()}}
