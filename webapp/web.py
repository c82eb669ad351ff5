"""Small helpers every view uses: the injected clock, the viewer's timezone, pagination arguments."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, g, request
from flask_login import current_user

from engine.clock import Clock
from engine.errors import InvalidInput


def clock() -> Clock:
    """The app's clock (a ManualClock in tests): never read the wall clock in a view."""
    return current_app.extensions["parcours_clock"]  # type: ignore[no-any-return]


def viewer_zone() -> ZoneInfo:
    """The signed-in professional's timezone, else the site's (PARCOURS_TIMEZONE); read once per request
    (every date a page shows asks for it, and each look at ``current_user`` goes through Flask-Login)."""
    zone = g.get("parcours_viewer_zone")
    if zone is None:
        zone = g.parcours_viewer_zone = _viewer_zone()
    return zone  # type: ignore[no-any-return]


def _viewer_zone() -> ZoneInfo:
    name = None
    if current_user and getattr(current_user, "is_authenticated", False):
        name = getattr(current_user, "timezone", None)
    try:
        return ZoneInfo(name or current_app.config.get("PARCOURS_TIMEZONE") or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Paris")


def int_arg(name: str, default: int, *, minimum: int = 1, maximum: int = 10_000) -> int:
    """An integer query argument within bounds; a bad value is InvalidInput (400/422), never a 500."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"'{name}' must be a whole number", {name: "nombre entier attendu"}) from None
    if not minimum <= value <= maximum:
        raise InvalidInput(f"'{name}' must be between {minimum} and {maximum}",
                           {name: f"entre {minimum} et {maximum}"})
    return value
