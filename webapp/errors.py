"""Engine errors to HTTP, mapped once: problem+json under /api, an error page elsewhere.

| error | status |
|---|---|
| AccessDenied (a patient outside my care team) | 404, audited as denied after the rollback |
| NotFound | 404 |
| NotPermitted | 403 |
| ConcurrencyConflict, InvalidTransition | 409 |
| InvalidInput, PathwayDefinitionError | 422 (field errors / located problems in the body) |
| other EngineError | 400 |
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.db import db
from engine.errors import (
    AccessDenied,
    ConcurrencyConflict,
    EngineError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    NotPermitted,
    PathwayDefinitionError,
)
from engine.services import audit
from webapp.web import clock

TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}


def wants_json() -> bool:
    """API routes (and clients that ask for JSON only) get problem+json; pages get an HTML page."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def error_response(status: int, detail: str, *, extra: dict[str, Any] | None = None) -> Response:
    """An error answer in the shape the client reads: RFC 9457 problem+json, or the error page."""
    if wants_json():
        body: dict[str, Any] = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
                                "detail": detail}
        if extra:
            body.update(extra)
        response = jsonify(body)
        response.status_code = status
        response.mimetype = "application/problem+json"
        return response
    html = render_template("errors/error.html", status=status, detail=detail, extra=extra or {})
    return Response(html, status=status, mimetype="text/html")


def status_of(exc: EngineError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NotPermitted):
        return 403
    if isinstance(exc, InvalidTransition):
        return 409
    if isinstance(exc, InvalidInput | PathwayDefinitionError):
        return 422
    return 400


def engine_error_extra(exc: EngineError) -> dict[str, Any]:
    if isinstance(exc, InvalidInput) and exc.errors:
        return {"errors": exc.errors}
    if isinstance(exc, PathwayDefinitionError):
        return {"problems": [{"file": p.file, "element_id": p.element_id, "reason": p.reason}
                             for p in exc.problems]}
    if isinstance(exc, ConcurrencyConflict):
        return {"conflict": "stale"}
    return {}


def _engine_error(exc: EngineError) -> Response:
    db.session.rollback()
    if isinstance(exc, AccessDenied):
        audit.record_denial(exc, at=clock().now())
        db.session.commit()
        return error_response(404, _("Introuvable (ou vous n'y avez pas accès)."))
    return error_response(status_of(exc), str(exc), extra=engine_error_extra(exc))


def _http_error(exc: HTTPException) -> Response:
    db.session.rollback()
    status = exc.code or 500
    response = error_response(status, exc.description or TITLES.get(status, "Error"))
    original = exc.get_response().headers
    for name in ("Retry-After", "Allow", "WWW-Authenticate"):
        if original.get(name):
            response.headers[name] = original[name]
    return response


def _csrf_error(exc: CSRFError) -> Response:
    db.session.rollback()
    return error_response(400, _("Le formulaire a expiré ou n'est pas valide : rechargez la page et réessayez."))


def _unexpected(exc: Exception) -> Response:
    db.session.rollback()
    from flask import current_app

    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, _("Erreur interne : l'équipe technique a été prévenue ; rien n'a été enregistré."))


def init_app(app: Flask) -> None:
    app.register_error_handler(EngineError, _engine_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    if not app.testing:  # in tests an unexpected error propagates with its traceback
        app.register_error_handler(Exception, _unexpected)
