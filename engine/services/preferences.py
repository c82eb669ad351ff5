"""A professional's own settings: interface language and timezone (dates are shown in it)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from engine.db import db
from engine.errors import InvalidInput, NotFound
from engine.models import Professional
from engine.services import audit
from engine.types import Actor

LANGUAGES = ("fr", "en")


def common_timezones() -> list[str]:
    """The zones offered first: metropolitan France and the overseas departments and regions, then Europe."""
    first = ["Europe/Paris", "America/Guadeloupe", "America/Martinique", "America/Cayenne", "Indian/Reunion",
             "Indian/Mayotte", "America/Miquelon", "Pacific/Noumea", "Pacific/Tahiti"]
    return first + sorted(z for z in available_timezones() if z.startswith("Europe/") and z not in first)


def update_preferences(actor: Actor, *, locale: str, timezone: str, at: datetime) -> Professional:
    """Set the signed-in professional's language and timezone (flushes, audits)."""
    if actor.professional_id is None:
        raise NotFound("no professional account")
    pro = db.session.get(Professional, actor.professional_id)
    if pro is None:
        raise NotFound("no professional account")
    errors = {}
    if locale not in LANGUAGES:
        errors["locale"] = f"langue inconnue : choisir parmi {', '.join(LANGUAGES)}"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = "fuseau horaire inconnu (exemple : Europe/Paris)"
    if errors:
        raise InvalidInput("; ".join(errors.values()), errors)
    pro.locale = locale
    pro.timezone = timezone
    audit.record(actor, "professional.preferences_changed", at=at, object_type="professional", object_id=pro.id,
                 details={"locale": locale, "timezone": timezone})
    db.session.flush()
    return pro
