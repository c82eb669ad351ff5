"""The OIDC login path (authlib), ready for Pro Santé Connect; off unless PARCOURS_OIDC_* are set.

A professional signs in with their OIDC identity when its ``sub`` is the ``oidc_subject`` of an active
professional (linked by an administrator); there is no self-registration.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

oauth = OAuth()


def init_app(app: Flask) -> None:
    oauth.init_app(app)
    issuer = app.config.get("PARCOURS_OIDC_ISSUER")
    if issuer and app.config.get("PARCOURS_OIDC_CLIENT_ID"):
        oauth.register(
            "pro_sante_connect",
            client_id=app.config["PARCOURS_OIDC_CLIENT_ID"],
            client_secret=app.config.get("PARCOURS_OIDC_CLIENT_SECRET"),
            server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": app.config["PARCOURS_OIDC_SCOPE"]},
        )


def enabled() -> bool:
    return bool(current_app.config.get("PARCOURS_OIDC_ISSUER") and current_app.config.get("PARCOURS_OIDC_CLIENT_ID"))


def authorize_redirect(redirect_uri: str) -> Any:
    return oauth.pro_sante_connect.authorize_redirect(redirect_uri)


def subject_from_callback() -> str | None:
    """The verified ``sub`` of the identity the provider returned (ID token checked by authlib)."""
    token = oauth.pro_sante_connect.authorize_access_token()
    userinfo = token.get("userinfo") or {}
    subject = userinfo.get("sub")
    return str(subject) if subject else None
