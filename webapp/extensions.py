"""The web extensions, created once and bound in ``create_app``: login, CSRF, rate limits."""

from __future__ import annotations

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def login_rate_limit() -> str:
    """The login form's limit, read per request (PARCOURS_LOGIN_RATE_LIMIT, default 10 per minute)."""
    return str(current_app.config["PARCOURS_LOGIN_RATE_LIMIT"])


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login page says why on its own
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["PARCOURS_RATELIMIT_STORAGE_URL"])
    limiter.init_app(app)

    from webapp.auth import oidc
    from webapp.auth.users import load_user

    login_manager.user_loader(load_user)
    oidc.init_app(app)
