"""Draft views: thin wrappers over engine.services.drafts; every view calls studio_actor() first (403 else)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from engine.bpmn.xml_safety import MAX_XML_BYTES
from engine.errors import InvalidInput, PathwayDefinitionError
from engine.services import drafts
from engine.services.draft_documents import editor_catalogue, form_schema
from webapp.forms.schema_form import form_fields, form_values
from webapp.studio.access import studio_actor
from webapp.studio.modeler import bp
from webapp.web import clock


def _workflows_dir() -> Path:
    return Path(current_app.config["PARCOURS_WORKFLOWS_DIR"])


def _index_page(status: int = 200, error: str | None = None, problems: list[Any] | None = None
                ) -> tuple[str, int]:
    return render_template("studio/modeler/index.html", drafts=drafts.list_drafts(),
                           starters=drafts.starter_templates(_workflows_dir() / "starters"),
                           versions=drafts.copyable_versions(),
                           error=error, problems=problems or []), status


@bp.route("/")
@login_required
def index() -> str | tuple[str, int]:
    studio_actor()
    return _index_page()


@bp.route("/new", methods=["POST"])
@login_required
def create() -> BaseResponse | tuple[str, int]:
    actor = studio_actor()
    upload = request.files.get("file")
    try:
        if upload is not None and upload.filename:
            data = upload.stream.read(MAX_XML_BYTES + 1)  # one byte more than allowed: the limit then says so
            draft = drafts.create_draft(actor=actor, clock=clock(), upload=(Path(upload.filename).name, data))
        else:
            template = request.form.get("template", "").strip()
            if not template:
                raise InvalidInput(_("Choisissez un modèle de départ ou un fichier .bpmn."))
            draft = drafts.create_draft(actor=actor, clock=clock(), template=template,
                                        key=request.form.get("key", "").strip() or None,
                                        title=request.form.get("title", "").strip() or None,
                                        starters_dir=_workflows_dir() / "starters")
    except PathwayDefinitionError as exc:
        return _index_page(422, _("Fichier refusé, rien n'a été enregistré :"), exc.problems)
    except InvalidInput as exc:
        return _index_page(422, str(exc))
    flash(_("Brouillon « %(title)s » créé.", title=draft.title), "success")
    return redirect(url_for("modeler.edit", draft_id=draft.id))


@bp.route("/from-version/<int:version_id>", methods=["POST"])
@login_required
def from_version(version_id: int) -> BaseResponse:
    draft = drafts.create_draft(actor=studio_actor(), clock=clock(), from_version_id=version_id)
    flash(_("Brouillon créé : copie de la version. Elle reste inchangée tant que vous ne déployez pas."), "success")
    return redirect(url_for("modeler.edit", draft_id=draft.id))


@bp.route("/<int:draft_id>/")
@login_required
def edit(draft_id: int) -> str:
    studio_actor()
    draft = drafts.get_draft(draft_id)
    catalogue = editor_catalogue(_workflows_dir() / "templates")
    data = {
        "xml": draft.bpmn_xml, "forms": draft.forms or {}, "revision": draft.revision, "status": draft.status,
        "roles": catalogue.roles, "templates": catalogue.templates,
        "urls": {"save": url_for("modeler.save", draft_id=draft.id),
                 "validate": url_for("modeler.validate", draft_id=draft.id),
                 "preview": url_for("modeler.form_preview"),
                 "deploy": url_for("modeler.deploy", draft_id=draft.id)},
    }
    return render_template("studio/modeler/edit.html", draft=draft, summary=drafts.draft_summary(draft),
                           data_json=_script_json(data))


def _script_json(value: Any) -> Markup:
    """JSON for a <script type="application/json"> block, keys in their order (a form's fields are shown in
    the order of its schema; Flask's tojson would sort them), with <, >, & and ' escaped."""
    text = json.dumps(value, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return Markup(text)  # noqa: S704 - escaped above, inside a JSON script block


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("a JSON object is expected: {xml, forms, revision}")
    if not isinstance(body.get("xml"), str):
        raise InvalidInput("'xml' (the diagram as BPMN XML text) is missing", {"xml": "texte attendu"})
    return body


@bp.route("/<int:draft_id>/save", methods=["POST"])
@login_required
def save(draft_id: int) -> Response:
    actor = studio_actor()
    body = _json_body()
    revision = body.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise InvalidInput("'revision' (the revision the editor started from) must be a whole number")
    draft = drafts.save_draft(draft_id, bpmn_xml=body["xml"], forms=body.get("forms"), expected_revision=revision,
                              actor=actor, clock=clock())
    return jsonify({"revision": draft.revision, "key": draft.key, "title": draft.title})


@bp.route("/<int:draft_id>/validate", methods=["POST"])
@login_required
def validate(draft_id: int) -> Response:
    studio_actor()
    body = _json_body()
    problems = drafts.validate_draft(drafts.get_draft(draft_id), bpmn_xml=body["xml"], forms=body.get("forms"))
    return jsonify({"problems": [{"element_id": p.element_id, "reason": p.reason, "file": p.file}
                                 for p in problems]})


@bp.route("/form-preview", methods=["POST"])
@login_required
def form_preview() -> str:
    studio_actor()
    body = request.get_json(silent=True)
    text = body.get("schema") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise InvalidInput("'schema' (the form's JSON Schema as text) is missing")
    schema = form_schema(text)
    return render_template("studio/modeler/_form_preview.html", schema=schema, fields=form_fields(schema),
                           values=form_values(schema))


@bp.route("/<int:draft_id>.bpmn")
@login_required
def download(draft_id: int) -> Response:
    studio_actor()
    draft = drafts.get_draft(draft_id)
    return Response(draft.bpmn_xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{draft.key}.bpmn"'})


@bp.route("/<int:draft_id>/deploy", methods=["GET", "POST"])
@login_required
def deploy(draft_id: int) -> BaseResponse | tuple[str, int]:
    actor = studio_actor()
    draft = drafts.get_draft(draft_id)
    if request.method == "GET":
        return render_template("studio/modeler/deploy.html", draft=draft,
                               preview=drafts.deploy_preview(draft, actor=actor), refused=False), 200
    try:
        revision = int(request.form.get("revision", ""))
    except ValueError:
        raise InvalidInput("the form lost the draft's revision: reload the page") from None
    try:
        result = drafts.deploy_draft(draft, actor=actor, clock=clock(), expected_revision=revision)
    except PathwayDefinitionError as exc:
        preview = drafts.deploy_preview(draft, actor=actor)
        return render_template("studio/modeler/deploy.html", draft=draft, preview=preview, refused=True,
                               refusal=exc.problems), 422
    flash(_("Version %(n)s de « %(key)s » déployée.", n=result.version.version, key=result.version.key), "success")
    if "library.pathway" in current_app.view_functions:  # the pathway's version history, when the library exists
        return redirect(url_for("library.pathway", key=result.version.key))
    return redirect(url_for("modeler.index"))


@bp.route("/<int:draft_id>/delete", methods=["POST"])
@login_required
def delete(draft_id: int) -> BaseResponse:
    drafts.delete_draft(draft_id, actor=studio_actor(), clock=clock())
    flash(_("Brouillon supprimé."), "success")
    return redirect(url_for("modeler.index"))
