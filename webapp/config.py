"""App configuration: defaults, then the environment (each variable listed here and in the README)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.notify.settings import ENV_SETTINGS as NOTIFY_ENV_SETTINGS

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every setting read from the environment, by name (documented in the README's configuration table).
ENV_SETTINGS = (
    "PARCOURS_WORKFLOWS_DIR",
    "PARCOURS_TIMEZONE",
    "PARCOURS_LOGIN_RATE_LIMIT",
    "PARCOURS_RATELIMIT_STORAGE_URL",
    "PARCOURS_OIDC_ISSUER",
    "PARCOURS_OIDC_CLIENT_ID",
    "PARCOURS_OIDC_CLIENT_SECRET",
    "PARCOURS_OIDC_SCOPE",
    "PARCOURS_OIDC_LABEL",
    "PARCOURS_DEFAULT_LOCALE",
    "PARCOURS_PG_OPTIONS",
    *NOTIFY_ENV_SETTINGS,
)


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def defaults() -> dict[str, Any]:
    """The configuration before the environment and the caller's mapping are applied."""
    public_url = os.environ.get("PARCOURS_PUBLIC_URL", "http://localhost:5000")
    return {
        "SECRET_KEY": os.environ.get("PARCOURS_SECRET_KEY", "dev-only-change-me"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "PARCOURS_WORKFLOWS_DIR": str(REPO_ROOT / "workflows"),
        "PARCOURS_TIMEZONE": "Europe/Paris",
        "PARCOURS_DEFAULT_LOCALE": "fr",
        "PARCOURS_PG_OPTIONS": "-c max_parallel_workers_per_gather=0",
        # Sessions: HttpOnly and SameSite always; Secure when served over https (PARCOURS_SECURE_COOKIES=1
        # forces it behind a TLS-terminating proxy). Eight hours, a working day.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag("PARCOURS_SECURE_COOKIES", public_url.startswith("https://")),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "PARCOURS_LOGIN_RATE_LIMIT": "10 per minute",
        "PARCOURS_RATELIMIT_STORAGE_URL": os.environ.get("REDIS_URL") or "memory://",
        "PARCOURS_OIDC_SCOPE": "openid profile email",
        "PARCOURS_OIDC_LABEL": "Pro Santé Connect",
    }


def from_environment(config: dict[str, Any]) -> None:
    """Apply PARCOURS_* settings and DATABASE_URL from the environment onto ``config``."""
    for name in ENV_SETTINGS:
        if os.environ.get(name):
            config[name] = os.environ[name]
