"""The OIDC login path (authlib), ready for Pro Santé Connect; off unless PARCOURS_OIDC_* are set.

A professional signs in with their OIDC identity when its ``sub`` is the ``oidc_subject`` of an active
professional (linked by an administrator); there is no self-registration. The ID token is verified by
authlib (issuer's keys, audience, expiry, nonce).
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

EXTENSION = "parcours_oidc"


def init_app(app: Flask) -> None:
    issuer = app.config.get("PARCOURS_OIDC_ISSUER")
    if not (issuer and app.config.get("PARCOURS_OIDC_CLIENT_ID")):
        return
    oauth = OAuth(app)
    oauth.register(
        "provider",
        client_id=app.config["PARCOURS_OIDC_CLIENT_ID"],
        client_secret=app.config.get("PARCOURS_OIDC_CLIENT_SECRET"),
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": app.config["PARCOURS_OIDC_SCOPE"]},
    )
    app.extensions[EXTENSION] = oauth


def enabled() -> bool:
    return EXTENSION in current_app.extensions


def _client() -> Any:
    return current_app.extensions[EXTENSION].provider


def authorize_redirect(redirect_uri: str) -> Any:
    return _client().authorize_redirect(redirect_uri)


def subject_from_callback() -> str | None:
    """The verified ``sub`` of the identity the provider returned (ID token checked by authlib)."""
    token = _client().authorize_access_token()
    userinfo = token.get("userinfo") or {}
    subject = userinfo.get("sub")
    return str(subject) if subject else None
