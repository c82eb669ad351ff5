"""Bearer-token authentication of every API call (the session cookie never authenticates here)."""

from __future__ import annotations

from flask import Response, g, request

from engine.services.api_tokens import authenticate
from webapp.errors import error_response
from webapp.web import clock

PUBLIC_ENDPOINTS = {"api.openapi_document", "api.docs"}  # the API's description is no patient data


def _unauthorized(detail: str, *, invalid: bool) -> Response:
    response = error_response(401, detail)
    challenge = 'Bearer realm="parcours"'
    if invalid:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def authenticate_request() -> Response | None:
    """``before_request`` of the API blueprint: set ``g.api_actor`` from ``Authorization: Bearer <token>``.

    Missing, unknown, revoked or expired token (or an inactive professional): 401 with WWW-Authenticate.
    """
    g.pop("api_actor", None)
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return _unauthorized("an API token is needed: Authorization: Bearer <token> "
                             "(create one with `parcours token create`)", invalid=False)
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("use Authorization: Bearer <token>", invalid=True)
    actor = authenticate(token.strip(), clock=clock())
    if actor is None:
        return _unauthorized("this API token is unknown, revoked or expired", invalid=True)
    g.api_actor = actor
    return None
