"""The OpenAPI 3 document (apispec + marshmallow, from the routes' docstrings) and its browsable page."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.yaml_utils import load_operations_from_docstring
from flask import Flask, Response, current_app, jsonify, render_template

from webapp.api import bp
from webapp.api.schemas import MAX_INT, ProblemSchema

PROBLEM_RESPONSES = {
    "BadRequest": "Requête illisible (JSON invalide, curseur ou en-tête mal formé).",
    "Unauthorized": "Jeton absent, inconnu, révoqué ou expiré (en-tête WWW-Authenticate: Bearer).",
    "Forbidden": "Action non permise (rôle, attribution, compte de service).",
    "NotFound": "Introuvable, ou hors de votre équipe de soins (la tentative est tracée).",
    "Conflict": "Conflit : quelqu'un a modifié l'objet entre-temps, ou son état ne permet pas l'action.",
    "UnsupportedMediaType": "Le corps doit être du JSON (Content-Type: application/json).",
    "InvalidInput": "Données refusées ; `errors` donne le message de chaque champ.",
}
PATH_PARAMETERS = {
    "id": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    "key": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.-]{0,119}$"},
}
RULE_ARGUMENT = re.compile(r"<(?:(\w+):)?(\w+)>")
INTRO = """JSON API of Parcours, for integrations (laboratories, hospital systems, SMS providers).

Authentication: `Authorization: Bearer <token>`; tokens are created with `parcours token create --user LOGIN
--name NAME [--days N]`. The session cookie of the web pages does not authenticate API calls.
Errors are `application/problem+json` (RFC 9457). Every read of patient data is audited; a patient outside
your care team answers 404 (and the attempt is audited)."""


def _operations(app: Flask) -> list[tuple[str, dict[str, Any]]]:
    """(OpenAPI path, operations) of every API route, from its rule and its view's docstring."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("api.") or rule.endpoint in ("api.openapi_document", "api.docs"):
            continue
        view = app.view_functions[rule.endpoint]
        operations = load_operations_from_docstring(view.__doc__ or "")
        path = RULE_ARGUMENT.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        parameters = [{"name": name, "in": "path", "required": True, "schema": dict(PATH_PARAMETERS[conv])}
                      for conv, name in RULE_ARGUMENT.findall(rule.rule)]
        for operation in operations.values():
            operation.setdefault("operationId", rule.endpoint.removeprefix("api."))
            operation["parameters"] = parameters + operation.get("parameters", [])
        found.append((path, operations))
    return found


def build_spec(app: Flask) -> dict[str, Any]:
    """The whole document, as a dict (built once per app)."""
    spec = APISpec(title="Parcours API", version="1", openapi_version="3.0.3", plugins=[MarshmallowPlugin()],
                   info={"description": INTRO}, servers=[{"url": "/"}],
                   security=[{"bearerAuth": []}])
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer",
                                                   "description": "An API token (parcours token create)."})
    spec.components.schema("Problem", schema=ProblemSchema)
    for name, description in PROBLEM_RESPONSES.items():
        spec.components.response(name, {"description": description, "content": {
            "application/problem+json": {"schema": ProblemSchema}}})
    for path, operations in _operations(app):
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    for public in ("/api/v1/openapi.json", "/api/v1/docs"):
        document["paths"].pop(public, None)
    return document


def spec_of(app: Flask) -> dict[str, Any]:
    cached = app.extensions.get("parcours_openapi")
    if cached is None:
        cached = app.extensions["parcours_openapi"] = build_spec(app)
    return cached  # type: ignore[no-any-return]


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3 document of this API (public: it holds no patient data)."""
    return jsonify(spec_of(current_app._get_current_object()))  # type: ignore[attr-defined]


def _schema_fields(document: dict[str, Any], schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The properties of a (referenced) schema, for the docs page."""
    if not schema:
        return []
    ref = schema.get("$ref", "")
    resolved = document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else schema
    required = set(resolved.get("required", []))
    rows = []
    for name, prop in resolved.get("properties", {}).items():
        kind = prop.get("type") or prop.get("$ref", "").rsplit("/", 1)[-1] or "object"
        if kind == "array":
            items = prop.get("items", {})
            kind = f"array of {items.get('type') or items.get('$ref', '').rsplit('/', 1)[-1]}"
        rows.append({"name": name, "type": kind, "required": name in required,
                     "description": prop.get("description", ""), "enum": prop.get("enum")})
    return rows


def _docs_model(document: dict[str, Any]) -> list[dict[str, Any]]:
    sections: dict[str, list[dict[str, Any]]] = {}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for code, response in op.get("responses", {}).items():
                if "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[-1]
                    response = document["components"]["responses"][name]
                content = response.get("content", {})
                media = next(iter(content), "")
                schema = content.get(media, {}).get("schema", {}) if media else {}
                responses.append({"code": code, "description": response.get("description", ""), "media": media,
                                  "schema": schema.get("$ref", "").rsplit("/", 1)[-1]})
            sections.setdefault(op.get("tags", ["api"])[0], []).append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""), "parameters": op.get("parameters", []),
                "body": _schema_fields(document, body), "responses": responses, "id": op.get("operationId")})
    return [{"tag": tag, "operations": ops} for tag, ops in sections.items()]


@bp.get("/docs")
def docs() -> str:
    """A readable page of every operation, rendered on the server (no script: the CSP allows only ours)."""
    document = spec_of(current_app._get_current_object())  # type: ignore[attr-defined]
    return render_template("api/docs.html", intro=INTRO, sections=_docs_model(document),
                           schemas=document["components"]["schemas"])
